import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { BIN } from "../fixtures/cli.ts";

// V8 runs the bytecode it finds in its code cache, so Coffer keeps that cache where only its
// user can write (bin/coffer.js), never in Node's default os.tmpdir()/node-compile-cache.
describe("the V8 compile cache of the coffer command", () => {
  const root = mkdtempSync(join(tmpdir(), "coffer-ccache-"));
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });
  const coffer = (env: Record<string, string>) =>
    spawnSync(process.execPath, [BIN, "--version"], {
      env: { PATH: process.env["PATH"] ?? "", HOME: join(root, "home"), ...env },
      encoding: "utf8",
    });
  const files = (dir: string): string[] =>
    existsSync(dir)
      ? readdirSync(dir, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => e.name)
      : [];

  it("lives in the user's own cache directory, 0700, and not under the shared temporary directory", () => {
    const xdg = join(root, "xdg");
    const tmp = join(root, "tmp");
    mkdirSync(tmp);
    const r = coffer({ XDG_CACHE_HOME: xdg, TMPDIR: tmp });
    assert.equal(r.status, 0, r.stderr);
    const dir = join(xdg, "coffer", "compile-cache");
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(xdg, "coffer")).mode & 0o777, 0o700);
    assert.ok(files(dir).length > 0, "the cache was written");
    assert.deepEqual(readdirSync(tmp), [], "nothing in the temporary directory");
  });

  it("is not used when its directory is writable by others", () => {
    const xdg = join(root, "xdg-open");
    const dir = join(xdg, "coffer", "compile-cache");
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777);
    const r = coffer({ XDG_CACHE_HOME: xdg, TMPDIR: join(root, "tmp") });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(files(dir), []);
  });

  it("falls back to ~/.cache when XDG_CACHE_HOME is not an absolute path", () => {
    const r = coffer({ XDG_CACHE_HOME: "relative/dir" });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(files(join(root, "home", ".cache", "coffer", "compile-cache")).length > 0);
    assert.equal(existsSync("relative"), false);
  });
});
