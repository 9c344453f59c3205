import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { KNOWN_ENV, loadConfig } from "../src/core/config/index.ts";
import { KEK_ENV } from "../src/core/config/kek-config.ts";
import { ROOT } from "./fixtures/cli.ts";

/** `COFFER_*` names in a text; a bare prefix (`COFFER_`, `COFFER_KEK_`) is a pattern, not a variable. */
function names(text: string): string[] {
  return [...text.matchAll(/\bCOFFER_[A-Z0-9_]+\b/g)].map((m) => m[0]).filter((n) => !n.endsWith("_"));
}

function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name))
    .filter(keep);
}

/**
 * Every `COFFER_*` variable the code names is on the known list, so setting it never draws the
 * "unknown environment variable … is ignored" warning (that warning is for typos). Test files
 * are left out: they name made-up variables on purpose.
 */
describe("known COFFER_* environment variables", () => {
  const known = new Set<string>([...KNOWN_ENV, ...KEK_ENV]);

  it("lists every COFFER_* variable named in src (outside tests)", () => {
    const missing: string[] = [];
    for (const file of filesUnder(join(ROOT, "src"), (p) => /\.(ts|tsx|mjs|js)$/.test(p) && !/\.test\.tsx?$/.test(p))) {
      for (const n of names(readFileSync(file, "utf8"))) if (!known.has(n)) missing.push(`${n} (${relative(ROOT, file)})`);
    }
    assert.deepEqual([...new Set(missing)], []);
  });

  it("lists every COFFER_* variable the README and docs tell users to set", () => {
    // Named in docs/deploy.md but read by others, not by Coffer.
    const notCoffer = new Set([
      "COFFER_CONTAINER_TESTS", // the opt-in of the container test suite
      "COFFER_IMAGE", // the Compose file's image tag
      "COFFER_SERVICE_HOST", // what Kubernetes service links would inject
    ]);
    const missing: string[] = [];
    for (const file of [join(ROOT, "README.md"), ...filesUnder(join(ROOT, "docs"), (p) => p.endsWith(".md"))]) {
      for (const n of names(readFileSync(file, "utf8")))
        if (!known.has(n) && !notCoffer.has(n)) missing.push(`${n} (${relative(ROOT, file)})`);
    }
    assert.deepEqual([...new Set(missing)], []);
  });

  it("warns about none of them, and still about a typo", () => {
    const env: Record<string, string> = { COFFER_BUNDLE_PASSPHRASE: "correct horse", COFFER_REAUTH: "123456", COFFER_HOMME: "/tmp/x" };
    assert.deepEqual(loadConfig({ env }).warnings, ["unknown environment variable COFFER_HOMME is ignored"]);
  });
});
