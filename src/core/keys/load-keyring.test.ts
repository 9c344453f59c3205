import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { caught as caughtError } from "../../../test/fixtures/caught.ts";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AesKey, fingerprintKey, parseKeyBase64, type ScopeKeyAad } from "../crypto/index.ts";
import { CofferError } from "../errors/index.ts";
import { OwnerId, parseKid } from "../model/index.ts";
import { Secret } from "../secret/index.ts";
import { kekNeedsCreation, loadKeyring } from "./load-keyring.ts";

const KID = parseKid("kek-1");
const AAD: ScopeKeyAad = { kind: "scope-key", owner: { kind: "user", id: OwnerId.parse("alice") }, scopeKeyId: "sk-1", kid: "kek-1" };
const newKeyText = (bytes = 32): string => `${randomBytes(bytes).toString("base64")}\n`;
const fingerprintOf = (text: string): string => fingerprintKey(parseKeyBase64(text, "test"));
const modeOf = (path: string): number => statSync(path).mode & 0o777;

let root = "";
let n = 0;
/** A fresh directory per test inside the suite's temp dir. */
function freshDir(): string {
  const dir = join(root, `t${String(n++)}`);
  mkdirSync(dir);
  return dir;
}
function writeKey(path: string, text: string, mode: number): void {
  writeFileSync(path, text, { mode });
  chmodSync(path, mode); // umask may have cleared bits the test wants set
}

before(() => {
  root = mkdtempSync(join(tmpdir(), "coffer-test-"));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("loadKeyring with the file provider", () => {
  it("creates secrets/master-key with mode 0600 in a directory with mode 0700", () => {
    const path = join(freshDir(), "secrets", "master-key");
    const settings = { provider: "file", path, kid: KID } as const;
    assert.equal(kekNeedsCreation(settings), true);
    const keyring = loadKeyring(settings, { allowCreate: true });
    assert.equal(modeOf(path), 0o600);
    assert.equal(modeOf(join(path, "..")), 0o700);
    assert.match(readFileSync(path, "utf8"), /^[A-Za-z0-9+/]{43}=\n$/);
    assert.equal(kekNeedsCreation(settings), false);
    assert.equal(keyring.active.kid, KID);
    assert.equal(keyring.active.kind, "file");
    assert.equal(keyring.active.describe().fingerprint, fingerprintOf(readFileSync(path, "utf8")));
  });

  it("reads back the key it created, so what it wrapped can be unwrapped after a restart", async () => {
    const path = join(freshDir(), "secrets", "master-key");
    const first = loadKeyring({ provider: "file", path, kid: KID }, { allowCreate: true });
    const scopeKey = AesKey.generate();
    const wrapped = await first.active.wrap(scopeKey, AAD);
    const second = loadKeyring({ provider: "file", path, kid: KID }, { allowCreate: false });
    assert.deepEqual((await second.get(KID).unwrap(wrapped, AAD)).exportBytes(), scopeKey.exportBytes());
  });

  it("leaves the mode of a directory it did not create alone", () => {
    const dir = join(freshDir(), "secrets");
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    loadKeyring({ provider: "file", path: join(dir, "master-key"), kid: KID }, { allowCreate: true });
    assert.equal(modeOf(dir), 0o755);
    assert.equal(modeOf(join(dir, "master-key")), 0o600);
  });

  for (const mode of [0o640, 0o604, 0o644, 0o660, 0o606, 0o620]) {
    it(`refuses a key file with mode 0${mode.toString(8)} with KEY_INVALID naming the path and chmod 600`, () => {
      const path = join(freshDir(), "master-key");
      const text = newKeyText();
      writeKey(path, text, mode);
      const err = caught(() => loadKeyring({ provider: "file", path, kid: KID }, { allowCreate: false }));
      assert.equal(err.code, "KEY_INVALID");
      assert.ok(err.message.includes(path), err.message);
      assert.ok(err.message.includes(`chmod 600 ${path}`), err.message);
      assert.ok(err.message.includes(`0${mode.toString(8)}`), err.message);
      assert.deepEqual(err.details, { path });
      assert.ok(!err.message.includes(text.trim().slice(0, 8)), "message shows key text");
    });
  }

  for (const mode of [0o770, 0o707, 0o775, 0o757, 0o777, 0o1777, 0o730]) {
    it(`refuses a key directory with mode 0${mode.toString(8)} (writable by group or others) with KEY_INVALID and chmod 700`, () => {
      const dir = join(freshDir(), "secrets");
      mkdirSync(dir);
      const path = join(dir, "master-key");
      writeKey(path, newKeyText(), 0o600);
      chmodSync(dir, mode);
      for (const allowCreate of [false, true]) {
        const err = caught(() => loadKeyring({ provider: "file", path, kid: KID }, { allowCreate }));
        assert.equal(err.code, "KEY_INVALID");
        assert.ok(err.message.startsWith(`key directory ${dir} is writable by group or others (mode `), err.message);
        assert.ok(err.message.includes(`run: chmod 700 ${dir}`), err.message);
        assert.deepEqual(err.details, { path: dir });
      }
    });
  }

  it("refuses to create a master key in a group-writable key directory, creating nothing", () => {
    const dir = join(freshDir(), "secrets");
    mkdirSync(dir);
    chmodSync(dir, 0o770);
    const path = join(dir, "master-key");
    const err = caught(() => loadKeyring({ provider: "file", path, kid: KID }, { allowCreate: true }));
    assert.equal(err.code, "KEY_INVALID");
    assert.equal(existsSync(path), false);
  });

  for (const mode of [0o700, 0o750, 0o755, 0o500]) {
    it(`accepts a key directory with mode 0${mode.toString(8)}`, () => {
      const dir = join(freshDir(), "secrets");
      mkdirSync(dir);
      const text = newKeyText();
      writeKey(join(dir, "master-key"), text, 0o600);
      chmodSync(dir, mode);
      const keyring = loadKeyring({ provider: "file", path: join(dir, "master-key"), kid: KID }, { allowCreate: false });
      assert.equal(keyring.active.describe().fingerprint, fingerprintOf(text));
      chmodSync(dir, 0o700);
    });
  }

  it("refuses a data directory writable by others (without the sticky bit), accepts a group-writable or sticky one", () => {
    const home = freshDir();
    const path = join(home, "secrets", "master-key");
    loadKeyring({ provider: "file", path, kid: KID }, { allowCreate: true });
    chmodSync(home, 0o777);
    const err = caught(() => loadKeyring({ provider: "file", path, kid: KID }, { allowCreate: false }));
    assert.equal(err.code, "KEY_INVALID");
    assert.equal(
      err.message,
      `data directory ${home} is writable by others (mode 0777), so its key directory could be replaced; run: chmod o-w ${home}`,
    );
    for (const ok of [0o1777, 0o2770, 0o775, 0o700]) {
      chmodSync(home, ok);
      loadKeyring({ provider: "file", path, kid: KID }, { allowCreate: false });
    }
  });

  it("accepts a key file with mode 0400", () => {
    const path = join(freshDir(), "master-key");
    const text = newKeyText();
    writeKey(path, text, 0o400);
    const keyring = loadKeyring({ provider: "file", path, kid: KID }, { allowCreate: false });
    assert.equal(keyring.active.describe().fingerprint, fingerprintOf(text));
  });

  it("throws KEY_NOT_FOUND and creates nothing when the file is missing and allowCreate is false", () => {
    const path = join(freshDir(), "secrets", "master-key");
    const err = caught(() => loadKeyring({ provider: "file", path, kid: KID }, { allowCreate: false }));
    assert.equal(err.code, "KEY_NOT_FOUND");
    assert.deepEqual(err.details, { path, kid: KID });
    assert.match(err.message, /restore the file from your backup/);
    assert.equal(existsSync(path), false);
  });

  it("rejects a key file holding 16 bytes with KEY_INVALID naming the file", () => {
    const path = join(freshDir(), "master-key");
    const text = newKeyText(16);
    writeKey(path, text, 0o600);
    const err = caught(() => loadKeyring({ provider: "file", path, kid: KID }, { allowCreate: true }));
    assert.equal(err.code, "KEY_INVALID");
    assert.ok(err.message.includes(path));
    assert.ok(!err.message.includes(text.trim()));
  });
});

describe("loadKeyring with the env provider", () => {
  const env = (base64: string | null, file: string | null) =>
    ({ provider: "env", base64: base64 === null ? null : Secret.fromString(base64), file, kid: KID }) as const;

  it("loads COFFER_KEK_BASE64 when it holds 32 bytes", () => {
    const text = newKeyText();
    const keyring = loadKeyring(env(text, null), { allowCreate: false });
    assert.equal(keyring.active.kind, "env");
    assert.equal(keyring.active.describe().fingerprint, fingerprintOf(text));
  });

  it("rejects COFFER_KEK_BASE64 of 16 bytes with KEY_INVALID mentioning 32 bytes, not the text", () => {
    const text = randomBytes(16).toString("base64");
    const err = caught(() => loadKeyring(env(text, null), { allowCreate: false }));
    assert.equal(err.code, "KEY_INVALID");
    assert.match(err.message, /^COFFER_KEK_BASE64 decodes to 16 bytes, but a key must be exactly 32 bytes/);
    assert.match(err.message, /openssl rand -base64 32/);
    assert.ok(!err.message.includes(text) && !JSON.stringify(err.details).includes(text));
  });

  it("lets COFFER_KEK_BASE64_FILE win over an inline COFFER_KEK_BASE64", () => {
    const path = join(freshDir(), "kek");
    const fileText = newKeyText();
    writeKey(path, fileText, 0o600);
    const valid = loadKeyring(env(newKeyText(), path), { allowCreate: false });
    assert.equal(valid.active.describe().fingerprint, fingerprintOf(fileText));
    const broken = loadKeyring(env("not a key", path), { allowCreate: false });
    assert.equal(broken.active.describe().fingerprint, fingerprintOf(fileText));
  });

  it("refuses a group-readable COFFER_KEK_BASE64_FILE with KEY_INVALID", () => {
    const path = join(freshDir(), "kek");
    writeKey(path, newKeyText(), 0o640);
    const err = caught(() => loadKeyring(env(null, path), { allowCreate: false }));
    assert.equal(err.code, "KEY_INVALID");
    assert.ok(err.message.includes(`chmod 600 ${path}`));
  });

  it("throws KEY_NOT_FOUND for a missing COFFER_KEK_BASE64_FILE", () => {
    const path = join(freshDir(), "absent");
    const err = caught(() => loadKeyring(env(null, path), { allowCreate: false }));
    assert.equal(err.code, "KEY_NOT_FOUND");
    assert.ok(err.message.includes(path));
  });

  it("throws KEY_NOT_FOUND naming both variables when neither is set", () => {
    const err = caught(() => loadKeyring(env(null, null), { allowCreate: false }));
    assert.equal(err.code, "KEY_NOT_FOUND");
    assert.match(err.message, /COFFER_KEK_BASE64 or COFFER_KEK_BASE64_FILE/);
  });
});

function caught(fn: () => unknown): CofferError {
  return caughtError(fn, "expected loadKeyring to throw");
}
