import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "./fixtures/cli.ts";

/**
 * The modules the SDK loads at run time: its value imports, followed (type-only imports are
 * erased and load nothing).
 */
function runtimeGraph(entry: string): { files: string[]; bare: string[] } {
  const files: string[] = [];
  const bare: string[] = [];
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop() ?? "";
    if (files.includes(file)) continue;
    files.push(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s*["']([^"']+)["']/gms)) {
      if (m[2] !== undefined) continue;
      const spec = m[3] ?? "";
      if (spec.startsWith(".")) todo.push(resolve(dirname(file), spec));
      else bare.push(`${relative(ROOT, file)} → ${spec}`);
    }
  }
  return { files: files.map((f) => relative(ROOT, f)), bare };
}

describe("the SDK stays browser-safe", () => {
  it("loads no Node built-in and no package at run time, and from the contract only its paths", () => {
    const { files, bare } = runtimeGraph(join(ROOT, "src", "sdk", "index.ts"));
    assert.deepEqual(bare, []);
    assert.deepEqual(files.sort(), ["src/contract/paths.ts", "src/sdk/index.ts"]);
  });

  it("the contract itself (schemas, OpenAPI generator) needs no Node built-in either", () => {
    const { bare } = runtimeGraph(join(ROOT, "src", "contract", "index.ts"));
    assert.deepEqual(
      bare.filter((b) => !b.endsWith("→ zod/mini")),
      [],
    );
  });
});
