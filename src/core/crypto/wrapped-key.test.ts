import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { codeOf } from "../../../test/fixtures/caught.ts";
import { createDecipheriv } from "node:crypto";
import { inspect } from "node:util";
import { CofferError } from "../errors/index.ts";
import { OwnerId, type Owner } from "../model/index.ts";
import { encodeAad, type DekAad, type ScopeKeyAad, type WrapAad } from "./aad.ts";
import { AesKey } from "./aes-key.ts";
import { toHex } from "./bytes.ts";
import type { Effects } from "./effects.ts";
import { decodeWrappedKey, unwrapKey, wrapKey, WRAPPED_KEY_BYTES } from "./wrapped-key.ts";

const ALICE: Owner = { kind: "user", id: OwnerId.parse("alice") };
const SCOPE_AAD: ScopeKeyAad = { kind: "scope-key", owner: ALICE, scopeKeyId: "sk-01", kid: "kek-2024" };
const DEK_AAD: DekAad = { kind: "dek", owner: ALICE, name: "API_TOKEN", version: 2, scopeKeyId: "sk-01" };

function flip(bytes: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[at] = out[at]! ^ mask;
  return out;
}

/** The code every byte position of a wrapped key must give when changed. */
function expectedCodeAt(at: number): string {
  if (at === 0) return "CIPHERTEXT_MALFORMED"; // format version
  if (at === 1) return "UNSUPPORTED_ALGORITHM"; // algorithm id
  return "DECRYPT_FAILED"; // nonce, tag, encrypted key: authenticated by the tag
}

describe("wrapKey", () => {
  it("round-trips a DEK, a scope key, an internal key and a probe key", () => {
    const kek = AesKey.generate();
    const aads: readonly (DekAad | WrapAad)[] = [
      DEK_AAD,
      SCOPE_AAD,
      { kind: "internal-key", purpose: "audit-mac", keyId: "ik-1", kid: "kek-2024" },
      { kind: "probe", kid: "kek-2024" },
    ];
    for (const aad of aads) {
      const key = AesKey.generate();
      const blob = wrapKey(kek, key, aad);
      assert.equal(blob.byteLength, WRAPPED_KEY_BYTES);
      assert.deepEqual(unwrapKey(kek, blob, aad).exportBytes(), key.exportBytes(), aad.kind);
    }
  });

  it("lays out version, alg id, nonce, tag and encrypted key in 62 bytes", () => {
    const kek = AesKey.generate();
    const key = AesKey.generate();
    const nonce = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i);
    const fx: Effects = { random: () => Uint8Array.from(nonce), now: () => new Date(0) };
    const blob = wrapKey(kek, key, SCOPE_AAD, fx);
    assert.equal(WRAPPED_KEY_BYTES, 62);
    assert.equal(blob.byteLength, 62);
    assert.equal(blob[0], 1, "format version 1");
    assert.equal(blob[1], 1, "alg id 1 = A256GCM");
    assert.equal(toHex(blob.subarray(2, 14)), toHex(nonce));
    // Decrypt the same bytes with bare node:crypto to pin where tag and ciphertext sit.
    const d = createDecipheriv("aes-256-gcm", kek.keyObject, blob.subarray(2, 14), { authTagLength: 16 });
    d.setAAD(encodeAad(SCOPE_AAD));
    d.setAuthTag(blob.subarray(14, 30));
    const unwrapped = Buffer.concat([d.update(blob.subarray(30, 62)), d.final()]);
    assert.equal(unwrapped.toString("hex"), toHex(key.exportBytes()));
  });

  it("wraps the same key to different blobs each time", () => {
    const kek = AesKey.generate();
    const key = AesKey.generate();
    const blobs = new Set(Array.from({ length: 100 }, () => toHex(wrapKey(kek, key, SCOPE_AAD))));
    assert.equal(blobs.size, 100);
  });
});

describe("unwrapKey", () => {
  const kek = AesKey.generate();
  const scopeKey = AesKey.generate();
  const blob = wrapKey(kek, scopeKey, SCOPE_AAD);

  it("rejects a wrapped scope key with any single byte flipped, with the code for that position", () => {
    for (let at = 0; at < blob.byteLength; at++) {
      for (const mask of [0x01, 0x80]) {
        const code = codeOf(() => unwrapKey(kek, flip(blob, at, mask), SCOPE_AAD));
        assert.equal(code, expectedCodeAt(at), `byte ${String(at)} xor ${String(mask)}`);
      }
    }
  });

  it("rejects an unknown format version with CIPHERTEXT_MALFORMED", () => {
    for (const version of [0, 2, 255]) {
      const bad = Uint8Array.from(blob);
      bad[0] = version;
      assert.throws(() => unwrapKey(kek, bad, SCOPE_AAD), {
        code: "CIPHERTEXT_MALFORMED",
        message: new RegExp(`version ${String(version)}`),
      });
    }
  });

  it("rejects an unknown algorithm id with UNSUPPORTED_ALGORITHM", () => {
    for (const alg of [0, 2, 255]) {
      const bad = Uint8Array.from(blob);
      bad[1] = alg;
      assert.throws(() => unwrapKey(kek, bad, SCOPE_AAD), { code: "UNSUPPORTED_ALGORITHM", details: { alg: String(alg) } });
    }
  });

  it("rejects a blob that is truncated or has bytes appended with CIPHERTEXT_MALFORMED", () => {
    const cases = [new Uint8Array(0), blob.subarray(0, 1), blob.subarray(0, 2), blob.subarray(0, 61), Uint8Array.of(...blob, 0)];
    for (const bad of cases) {
      assert.throws(() => unwrapKey(kek, bad, SCOPE_AAD), { code: "CIPHERTEXT_MALFORMED" }, `${String(bad.byteLength)} bytes`);
    }
  });

  it("rejects decoding without slicing off a blob of the wrong length", () => {
    assert.throws(() => decodeWrappedKey(Uint8Array.of(...blob, ...blob)), {
      code: "CIPHERTEXT_MALFORMED",
      message: /124 bytes, expected 62/,
    });
  });

  it("rejects a wrong KEK with DECRYPT_FAILED naming owner, scope key id and kid", () => {
    let err: unknown;
    try {
      unwrapKey(AesKey.generate(), blob, SCOPE_AAD);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof CofferError);
    assert.equal(err.code, "DECRYPT_FAILED");
    assert.equal(err.message.startsWith("cannot decrypt the scope key sk-01 of user/alice with kid kek-2024"), true, err.message);
    assert.deepEqual(err.details, { owner: "user/alice", scopeKeyId: "sk-01", kid: "kek-2024" });
    const printed = `${err.message} ${JSON.stringify(err.details)} ${inspect(err)}`;
    for (const secret of [toHex(scopeKey.exportBytes()), toHex(kek.exportBytes()), toHex(blob.subarray(30))]) {
      assert.ok(!printed.includes(secret.slice(0, 8)), "no key or wrapped key bytes in the error");
    }
  });

  const moved: readonly (readonly [string, ScopeKeyAad])[] = [
    ["another user", { ...SCOPE_AAD, owner: { kind: "user", id: OwnerId.parse("bob") } }],
    ["a project with the same id", { ...SCOPE_AAD, owner: { kind: "project", id: OwnerId.parse("alice") } }],
    ["the system owner", { ...SCOPE_AAD, owner: { kind: "system" } }],
    ["another scope key id", { ...SCOPE_AAD, scopeKeyId: "sk-02" }],
    ["another kid", { ...SCOPE_AAD, kid: "kek-2025" }],
  ];
  for (const [where, aad] of moved) {
    it(`rejects a wrapped scope key moved to ${where}`, () => {
      assert.throws(() => unwrapKey(kek, blob, aad), { code: "DECRYPT_FAILED" });
    });
  }

  it("rejects a wrapped scope key presented as a DEK of the same owner", () => {
    assert.throws(() => unwrapKey(kek, blob, { ...DEK_AAD, scopeKeyId: "sk-01" }), { code: "DECRYPT_FAILED" });
  });
});
