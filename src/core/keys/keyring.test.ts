import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { caught as caughtError } from "../../../test/fixtures/caught.ts";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { AesKey, fingerprintKey, parseKeyBase64, type ScopeKeyAad } from "../crypto/index.ts";
import { CofferError } from "../errors/index.ts";
import { OwnerId, parseKid } from "../model/index.ts";
import { Keyring } from "./keyring.ts";
import { loadKeyring } from "./load-keyring.ts";
import { LocalKek } from "./local-kek.ts";

const aadFor = (kid: string): ScopeKeyAad => ({
  kind: "scope-key",
  owner: { kind: "project", id: OwnerId.parse("web") },
  scopeKeyId: "sk-1",
  kid,
});

describe("Keyring", () => {
  const k1 = AesKey.generate();
  const k2 = AesKey.generate();
  const keyring = new Keyring(parseKid("k2"), [new LocalKek("keyring", parseKid("k1"), k1), new LocalKek("keyring", parseKid("k2"), k2)]);

  it("wraps new data with the active kid", async () => {
    assert.equal(keyring.active.kid, "k2");
    const scopeKey = AesKey.generate();
    const wrapped = await keyring.active.wrap(scopeKey, aadFor(keyring.active.kid));
    assert.deepEqual((await keyring.get("k2").unwrap(wrapped, aadFor("k2"))).exportBytes(), scopeKey.exportBytes());
  });

  it("unwraps with the key of the kid stored beside the data, not the active one", async () => {
    const scopeKey = AesKey.generate();
    const wrappedByOld = await keyring.get("k1").wrap(scopeKey, aadFor("k1"));
    assert.deepEqual((await keyring.get("k1").unwrap(wrappedByOld, aadFor("k1"))).exportBytes(), scopeKey.exportBytes());
    await assert.rejects(keyring.get("k2").unwrap(wrappedByOld, aadFor("k1")), { code: "DECRYPT_FAILED" });
  });

  it("throws KEY_NOT_FOUND naming the kid and the known kids for an unknown kid", () => {
    const err = caught(() => keyring.get("k9"));
    assert.equal(err.code, "KEY_NOT_FOUND");
    assert.deepEqual(err.details, { kid: "k9" });
    assert.match(err.message, /kid 'k9'.*known: k1, k2/);
  });

  it("throws KEY_NOT_FOUND when the active kid has no key", () => {
    const err = caught(() => new Keyring(parseKid("k3"), [new LocalKek("file", parseKid("k1"), k1)]));
    assert.equal(err.code, "KEY_NOT_FOUND");
  });

  it("describes its keys by kid, provider and keyed fingerprint, never by key bytes", () => {
    const info = keyring.describe();
    assert.deepEqual(
      info.map((i) => [i.kid, i.provider, i.fingerprint]),
      [
        ["k1", "keyring", fingerprintKey(k1)],
        ["k2", "keyring", fingerprintKey(k2)],
      ],
    );
    const printed = `${JSON.stringify(info)} ${inspect(keyring, { depth: 10 })} ${inspect(keyring.active, { depth: 10 })}`;
    for (const k of [k1, k2]) {
      const b = Buffer.from(k.exportBytes());
      for (const form of [b.toString("hex"), b.toString("base64")]) assert.ok(!printed.includes(form.slice(0, 12)));
    }
  });
});

describe("loadKeyring with a keyring file", () => {
  let dir = "";
  let n = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "coffer-test-"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  function keyringFile(body: string, mode = 0o600): string {
    const path = join(dir, `keyring-${String(n++)}.json`);
    writeFileSync(path, body, { mode });
    chmodSync(path, mode);
    return path;
  }
  const load = (path: string) => loadKeyring({ provider: "keyring", path }, { allowCreate: false });
  const k1 = randomBytes(32).toString("base64");
  const k2 = randomBytes(32).toString("base64");

  it("refuses an active kid that names an inherited property, not a key", () => {
    for (const active of ["constructor", "toString", "valueOf"]) {
      assert.equal(caught(() => load(keyringFile(JSON.stringify({ active, keys: { k1 } })))).code, "KEY_INVALID", active);
    }
  });

  it("refuses a kid that breaks the kid rule as KEY_INVALID", () => {
    const err = caught(() => load(keyringFile(JSON.stringify({ active: "k1", keys: { k1, "bad kid": k2 } }))));
    assert.equal(err.code, "KEY_INVALID");
    assert.match(err.message, /kid 'bad kid'/);
  });

  it("makes the active kid the writer and keeps every listed kid readable", () => {
    const keyring = load(keyringFile(JSON.stringify({ active: "k2", keys: { k1, k2 } })));
    assert.equal(keyring.active.kid, "k2");
    assert.equal(keyring.active.kind, "keyring");
    assert.equal(keyring.active.describe().fingerprint, fingerprintKey(parseKeyBase64(k2, "k2")));
    assert.equal(keyring.get("k1").describe().fingerprint, fingerprintKey(parseKeyBase64(k1, "k1")));
    assert.equal(caught(() => keyring.get("k3")).code, "KEY_NOT_FOUND");
  });

  it("rejects a file that is not JSON with KEY_INVALID naming the path", () => {
    const path = keyringFile(`{ "active": "k1", "keys": { "k1": "${k1}" `);
    const err = caught(() => load(path));
    assert.equal(err.code, "KEY_INVALID");
    assert.deepEqual(err.details, { path });
    assert.ok(err.message.includes(path) && !err.message.includes(k1));
  });

  const badShapes: readonly (readonly [string, unknown])[] = [
    ["an active kid that is not among its keys", { active: "k3", keys: { k1, k2 } }],
    ["no keys at all", { active: "k1", keys: {} }],
    ["a missing active field", { keys: { k1 } }],
    ["a key that is not a string", { active: "k1", keys: { k1: 42 } }],
    ["an unknown top-level field", { active: "k1", keys: { k1 }, backup: k2 }],
    ["an array instead of an object", [{ active: "k1", keys: { k1 } }]],
  ];
  for (const [what, body] of badShapes) {
    it(`rejects ${what} with KEY_INVALID`, () => {
      const path = keyringFile(JSON.stringify(body));
      const err = caught(() => load(path));
      assert.equal(err.code, "KEY_INVALID");
      assert.ok(err.message.includes(path));
      for (const k of [k1, k2]) assert.ok(!err.message.includes(k.slice(0, 8)), "message shows key text");
    });
  }

  const badKeys: readonly (readonly [string, string])[] = [
    ["31 bytes", randomBytes(31).toString("base64")],
    ["33 bytes", randomBytes(33).toString("base64")],
    ["URL-safe base64", "-_".repeat(21) + "8="],
    ["missing padding", k1.replace(/=+$/, "")],
    ["hex", randomBytes(32).toString("hex")],
  ];
  for (const [what, bad] of badKeys) {
    it(`rejects a key of ${what} with KEY_INVALID naming its kid but not its text`, () => {
      const path = keyringFile(JSON.stringify({ active: "k1", keys: { k1, old: bad } }));
      const err = caught(() => load(path));
      assert.equal(err.code, "KEY_INVALID");
      assert.ok(err.message.includes(`key 'old'`), err.message);
      assert.ok(err.message.includes(path));
      assert.ok(!err.message.includes(bad.slice(0, 8)) && !err.message.includes(k1.slice(0, 8)));
    });
  }

  it("refuses a keyring file readable by others with KEY_INVALID", () => {
    const path = keyringFile(JSON.stringify({ active: "k1", keys: { k1 } }), 0o644);
    const err = caught(() => load(path));
    assert.equal(err.code, "KEY_INVALID");
    assert.ok(err.message.includes(`chmod 600 ${path}`));
  });

  it("throws KEY_NOT_FOUND for a missing keyring file", () => {
    assert.equal(caught(() => load(join(dir, "absent.json"))).code, "KEY_NOT_FOUND");
  });
});

function caught(fn: () => unknown): CofferError {
  return caughtError(fn, "expected a throw");
}
