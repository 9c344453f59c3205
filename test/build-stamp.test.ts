import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "./fixtures/cli.ts";

/**
 * `npm install && npm test` builds once: `npm run build` records a digest of its inputs, and
 * `pretest` builds only when `scripts/build-stamp.mjs check` finds them changed. Run on a copy of
 * the sources (no real build needed: the check reads the inputs and the stamp).
 */
describe("build once: the pretest build is skipped when dist/ matches the sources", () => {
  let dir: string;
  const check = (): number | null => spawnSync(process.execPath, [join(ROOT, "scripts", "build-stamp.mjs"), "check"], { cwd: dir }).status;
  const write = (): void => {
    assert.equal(spawnSync(process.execPath, [join(ROOT, "scripts", "build-stamp.mjs"), "write"], { cwd: dir }).status, 0);
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "coffer-stamp-"));
    cpSync(join(ROOT, "src"), join(dir, "src"), { recursive: true });
    for (const f of ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json"]) cpSync(join(ROOT, f), join(dir, f));
    mkdirSync(join(dir, "scripts"));
    cpSync(join(ROOT, "scripts", "bundle.mjs"), join(dir, "scripts", "bundle.mjs"));
    mkdirSync(join(dir, "dist", "bundle"), { recursive: true });
    mkdirSync(join(dir, "dist", "sdk"), { recursive: true });
    writeFileSync(join(dir, "dist", "bundle", "main.js"), "");
    writeFileSync(join(dir, "dist", "sdk", "index.js"), "");
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("package.json: build writes the stamp, pretest checks it before building", () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    assert.match(scripts["build"] ?? "", /&& node scripts\/build-stamp\.mjs write$/);
    assert.equal(scripts["pretest"], "node scripts/build-stamp.mjs check || npm run build");
    assert.equal(scripts["prepare"], "npm run build");
  });

  it("no stamp: build; after a build: skip; a changed source, config or lock file: build again; a changed test: skip", () => {
    assert.equal(check(), 1, "never built");
    write();
    assert.equal(check(), 0);
    const exit = join(dir, "src", "cli", "exit.ts");
    const original = readFileSync(exit, "utf8");
    writeFileSync(exit, `${original}// changed\n`);
    assert.equal(check(), 1, "a source changed");
    writeFileSync(exit, original);
    assert.equal(check(), 0, "back as it was built");
    writeFileSync(join(dir, "src", "cli", "run-env.test.ts"), "// a test is not built\n");
    assert.equal(check(), 0, "a test file is not an input");
    const lock = join(dir, "package-lock.json");
    writeFileSync(lock, `${readFileSync(lock, "utf8")} `);
    assert.equal(check(), 1, "dependencies changed");
    write();
    rmSync(join(dir, "dist", "bundle", "main.js"));
    assert.equal(check(), 1, "an output is missing");
  });
});
