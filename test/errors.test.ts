import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CODES, RETIRED_CODES } from "../src/core/errors/index.ts";
import { EXIT_STATUS } from "../src/cli/exit.ts";
import { HTTP_STATUS } from "../src/server/index.ts";
import { ROOT } from "./fixtures/cli.ts";

/** Rows of the table in docs/errors.md: code, HTTP status, CLI exit status. */
function documented(): Map<string, { http: number; exit: number }> {
  const text = readFileSync(join(ROOT, "docs", "errors.md"), "utf8");
  const rows = new Map<string, { http: number; exit: number }>();
  for (const m of text.matchAll(/^\|\s*`([A-Z_]+)`\s*\|.*\|\s*(\d{3})\s*\|\s*(\d+)\s*\|$/gm)) {
    rows.set(m[1] ?? "", { http: Number(m[2]), exit: Number(m[3]) });
  }
  return rows;
}

describe("error catalog", () => {
  const docs = documented();

  it("documents every code", () => {
    assert.deepEqual(
      CODES.filter((c) => !docs.has(c)),
      [],
    );
  });

  it("documents no code that does not exist", () => {
    assert.deepEqual(
      [...docs.keys()].filter((c) => !(CODES as readonly string[]).includes(c)),
      [],
    );
  });

  it("documents the exit status the CLI actually uses", () => {
    for (const c of CODES) assert.equal(docs.get(c)?.exit, EXIT_STATUS[c], c);
  });

  it("documents the HTTP status the server actually answers with", () => {
    for (const c of CODES) assert.equal(docs.get(c)?.http, HTTP_STATUS[c], c);
  });

  it("never brings a retired code back", () => {
    for (const r of RETIRED_CODES) assert.ok(!(CODES as readonly string[]).includes(r), r);
  });

  it("keeps codes unique and SCREAMING_SNAKE", () => {
    assert.equal(new Set(CODES).size, CODES.length);
    for (const c of CODES) assert.match(c, /^[A-Z][A-Z_]*$/);
  });
});
