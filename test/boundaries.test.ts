import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "./fixtures/cli.ts";

const SRC = join(ROOT, "src");

/** Which capability folders each one may import (besides itself). DESIGN.md §2, STYLE.md rule 2. */
const LEAVES = ["core/model", "core/errors", "core/secret"];
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  "core/errors": [],
  "core/secret": [],
  "core/model": ["core/errors"],
  "core/crypto": LEAVES,
  "core/keys": [...LEAVES, "core/crypto"],
  "core/store": LEAVES,
  "core/config": [...LEAVES, "core/keys", "core/store"],
  "core/template": ["core/errors"],
  "core/service": [...LEAVES, "core/crypto", "core/keys", "core/store", "core/config", "core/template"],
  contract: ["core/model", "core/errors"],
  sdk: ["contract", "core/model", "core/errors"],
  console: ["sdk"],
  files: [...LEAVES, "core/crypto"],
  server: [...LEAVES, "core/service", "core/config", "core/template", "contract", "files"],
  cli: [...LEAVES, "core/service", "core/config", "core/template", "sdk", "contract", "files", "server"],
};

function capabilityOf(file: string): string {
  const parts = relative(SRC, file).split("/");
  return parts[0] === "core" ? `core/${parts[1] ?? ""}` : (parts[0] ?? "");
}

function sources(): string[] {
  return readdirSync(SRC, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith(".ts") && !d.name.endsWith(".test.ts"))
    .map((d) => join(d.parentPath, d.name));
}

describe("dependency direction", () => {
  it("knows every capability folder", () => {
    for (const f of sources()) assert.ok(capabilityOf(f) in ALLOWED, `no rule for ${capabilityOf(f)} (${relative(ROOT, f)})`);
  });

  it("resolves every relative import to an allowed capability", () => {
    const breaches: string[] = [];
    for (const file of sources()) {
      const from = capabilityOf(file);
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
        const target = capabilityOf(resolve(dirname(file), m[1] ?? ""));
        if (target !== from && !(ALLOWED[from] ?? []).includes(target)) breaches.push(`${relative(ROOT, file)} → ${target}`);
      }
    }
    assert.deepEqual(breaches, []);
  });

  it("imports other capabilities only through their index.ts", () => {
    const breaches: string[] = [];
    for (const file of sources()) {
      const from = capabilityOf(file);
      for (const m of readFileSync(file, "utf8").matchAll(/from\s*["'](\.{1,2}\/[^"']+)["']/g)) {
        const path = resolve(dirname(file), m[1] ?? "");
        const target = capabilityOf(path);
        if (target !== from && target.startsWith("core/") && !path.endsWith("/index.ts"))
          breaches.push(`${relative(ROOT, file)} → ${relative(ROOT, path)}`);
      }
    }
    assert.deepEqual(breaches, []);
  });
});
