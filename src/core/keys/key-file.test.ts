import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { fingerprintKey } from "../crypto/index.ts";
import { createKeyFile, readKeyFile } from "./key-file.ts";
import { FileKeyStorage } from "./key-storage.ts";

const KEY_FILE_MODULE = fileURLToPath(new URL("./key-file.ts", import.meta.url));
const CRYPTO_MODULE = fileURLToPath(new URL("../crypto/index.ts", import.meta.url));

/** Runs createKeyFile in a child process; resolves with its key's fingerprint, or its error. */
function createInChild(path: string): Promise<string> {
  const code = `
    const { createKeyFile } = await import(${JSON.stringify(KEY_FILE_MODULE)});
    const { fingerprintKey } = await import(${JSON.stringify(CRYPTO_MODULE)});
    try { process.stdout.write(fingerprintKey(createKeyFile(${JSON.stringify(path)}))); }
    catch (e) { process.stdout.write("error " + e.code + ": " + e.message); }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", reject);
    child.on("close", () => {
      resolve(out);
    });
  });
}

describe("the master key file", () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("is created 0600, whole, and read back as the same key; a second create reads it instead of overwriting", () => {
    const dir = mkdtempSync(join(tmpdir(), "coffer-keyfile-"));
    dirs.push(dir);
    const path = join(dir, "secrets", "master-key");
    const first = createKeyFile(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "secrets")).mode & 0o777, 0o700);
    assert.equal(fingerprintKey(readKeyFile(path, "master key file")), fingerprintKey(first));
    assert.equal(fingerprintKey(createKeyFile(path)), fingerprintKey(first));
    assert.deepEqual(readdirSync(join(dir, "secrets")), ["master-key"], "no temporary file is left behind");
  });

  it("leaves another process's key being written alone at open, and removes one left by a dead writer", () => {
    const dir = mkdtempSync(join(tmpdir(), "coffer-keyfile-tmp-"));
    dirs.push(dir);
    const path = join(dir, "secrets", "master-key");
    createKeyFile(path);
    const fresh = join(dir, "secrets", ".master-key.aaaaaaaaaaaa.tmp");
    const stale = join(dir, "secrets", ".master-key.bbbbbbbbbbbb.tmp");
    writeFileSync(fresh, "in flight\n", { mode: 0o600 });
    writeFileSync(stale, "half\n", { mode: 0o600 });
    const old = new Date(Date.now() - 5 * 60_000);
    utimesSync(stale, old, old);
    FileKeyStorage.open(path, "k1" as Parameters<typeof FileKeyStorage.open>[1], false);
    assert.equal(existsSync(fresh), true, "a temporary key file being written now is kept");
    assert.equal(existsSync(stale), false, "one older than a minute is removed");
  });

  // The window this closes (between a `wx` create and its write) is a scheduling accident: the
  // full suite hit it once under load (KEY_INVALID "master key file … is empty"), this check
  // exercises the same race but cannot force it.
  it("gives every one of 8 processes starting at once the same key, never an empty file", async () => {
    for (let round = 0; round < 3; round++) {
      const dir = mkdtempSync(join(tmpdir(), "coffer-keyfile-race-"));
      dirs.push(dir);
      const path = join(dir, "secrets", "master-key");
      const got = await Promise.all(Array.from({ length: 8 }, () => createInChild(path)));
      assert.equal(new Set(got).size, 1, got.join("\n"));
      assert.match(got[0] ?? "", /^[0-9a-f]{16}$/);
      assert.equal(fingerprintKey(readKeyFile(path, "master key file")), got[0]);
      assert.deepEqual(readdirSync(join(dir, "secrets")), ["master-key"]);
    }
  });
});
