import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { codeOf } from "../../../test/fixtures/caught.ts";
import fc from "fast-check";
import { OwnerId, type Owner } from "../model/index.ts";
import { Secret } from "../secret/index.ts";
import type { DekAad, ValueAad } from "./aad.ts";
import { AesKey } from "./aes-key.ts";
import { toHex } from "./bytes.ts";
import { openVersion, sealVersion, type SealedVersion } from "./envelope.ts";

type Place = { readonly owner: Owner; readonly name: string; readonly version: number; readonly scopeKeyId: string };

/** The two AADs of one stored version, built the way `service/sealing.ts` builds them. */
function aadFor(p: Place): { readonly value: ValueAad; readonly dek: DekAad } {
  return {
    value: { kind: "value", owner: p.owner, name: p.name, version: p.version },
    dek: { kind: "dek", owner: p.owner, name: p.name, version: p.version, scopeKeyId: p.scopeKeyId },
  };
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[at] = out[at]! ^ 0x01;
  return out;
}

const PLACE: Place = { owner: { kind: "project", id: OwnerId.parse("payments") }, name: "STRIPE_SECRET", version: 7, scopeKeyId: "sk-9" };

const ownerIdArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).map((s) => OwnerId.parse(s));
const placeArb: fc.Arbitrary<Place> = fc.record({
  owner: fc.oneof(
    ownerIdArb.map((id): Owner => ({ kind: "user", id })),
    ownerIdArb.map((id): Owner => ({ kind: "project", id })),
    fc.constant<Owner>({ kind: "system" }),
  ),
  name: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/),
  version: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  scopeKeyId: fc.uuid(),
});
const VALUE_BYTES = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 65536, size: "max" }));

describe("sealVersion", () => {
  it("round-trips a value through openVersion", () => {
    const scopeKey = AesKey.generate();
    const sealed = sealVersion(scopeKey, Secret.fromString("sk_live_abc123"), aadFor(PLACE));
    assert.equal(openVersion(scopeKey, sealed, aadFor(PLACE)).revealText(), "sk_live_abc123");
  });

  it("round-trips arbitrary bytes of 0 to 65536 bytes", () => {
    const scopeKey = AesKey.generate();
    fc.assert(
      fc.property(VALUE_BYTES, (bytes) => {
        const sealed = sealVersion(scopeKey, Secret.of(bytes), aadFor(PLACE));
        assert.deepEqual(openVersion(scopeKey, sealed, aadFor(PLACE)).reveal(), bytes);
      }),
      { numRuns: 40 },
    );
  });

  it("round-trips at arbitrary owners, key names and versions", () => {
    const scopeKey = AesKey.generate();
    fc.assert(
      fc.property(placeArb, fc.uint8Array({ maxLength: 256 }), (place, bytes) => {
        const sealed = sealVersion(scopeKey, Secret.of(bytes), aadFor(place));
        assert.deepEqual(openVersion(scopeKey, sealed, aadFor(place)).reveal(), bytes);
      }),
      { numRuns: 300 },
    );
  });

  it("uses a fresh data key and nonces for every version, even of the same value", () => {
    const scopeKey = AesKey.generate();
    const a = sealVersion(scopeKey, Secret.fromString("same"), aadFor(PLACE));
    const b = sealVersion(scopeKey, Secret.fromString("same"), aadFor(PLACE));
    assert.notEqual(toHex(a.wrappedDek), toHex(b.wrappedDek));
    assert.notEqual(toHex(a.value.nonce), toHex(b.value.nonce));
    assert.notEqual(toHex(a.value.ciphertext), toHex(b.value.ciphertext));
  });

  it("never repeats a value or wrap nonce across 10,000 versions", () => {
    const scopeKey = AesKey.generate();
    const nonces = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const s = sealVersion(scopeKey, Secret.fromString("x"), aadFor(PLACE));
      nonces.add(toHex(s.value.nonce));
      nonces.add(toHex(s.wrappedDek.subarray(2, 14)));
    }
    assert.equal(nonces.size, 20_000);
  });

  it("opens the stored form with the tag appended to the ciphertext, as service/sealing.ts stores it", () => {
    const scopeKey = AesKey.generate();
    const s = sealVersion(scopeKey, Secret.fromString("stored"), aadFor(PLACE));
    const column = Uint8Array.of(...s.value.ciphertext, ...s.value.tag);
    const value = { alg: s.value.alg, nonce: s.value.nonce, ciphertext: column.subarray(0, -16), tag: column.subarray(-16) };
    assert.equal(openVersion(scopeKey, { ...s, value }, aadFor(PLACE)).revealText(), "stored");
  });
});

describe("openVersion", () => {
  const scopeKey = AesKey.generate();
  const plaintext = new TextEncoder().encode("correct horse battery staple, 48 bytes long!!!!");
  const sealed = sealVersion(scopeKey, Secret.of(plaintext), aadFor(PLACE));
  const withValue = (change: Partial<SealedVersion["value"]>): SealedVersion => ({ ...sealed, value: { ...sealed.value, ...change } });

  it("rejects the value ciphertext with any single byte flipped", () => {
    for (let at = 0; at < sealed.value.ciphertext.byteLength; at++) {
      const code = codeOf(() => openVersion(scopeKey, withValue({ ciphertext: flip(sealed.value.ciphertext, at) }), aadFor(PLACE)));
      assert.equal(code, "DECRYPT_FAILED", `ciphertext byte ${String(at)}`);
    }
  });

  it("rejects the value tag with any single byte flipped", () => {
    for (let at = 0; at < sealed.value.tag.byteLength; at++) {
      const code = codeOf(() => openVersion(scopeKey, withValue({ tag: flip(sealed.value.tag, at) }), aadFor(PLACE)));
      assert.equal(code, "DECRYPT_FAILED", `tag byte ${String(at)}`);
    }
  });

  it("rejects the value nonce with any single byte flipped", () => {
    for (let at = 0; at < sealed.value.nonce.byteLength; at++) {
      const code = codeOf(() => openVersion(scopeKey, withValue({ nonce: flip(sealed.value.nonce, at) }), aadFor(PLACE)));
      assert.equal(code, "DECRYPT_FAILED", `nonce byte ${String(at)}`);
    }
  });

  it("rejects the wrapped DEK with any single byte flipped, with the code for that position", () => {
    for (let at = 0; at < sealed.wrappedDek.byteLength; at++) {
      const code = codeOf(() => openVersion(scopeKey, { ...sealed, wrappedDek: flip(sealed.wrappedDek, at) }, aadFor(PLACE)));
      const expected = at === 0 ? "CIPHERTEXT_MALFORMED" : at === 1 ? "UNSUPPORTED_ALGORITHM" : "DECRYPT_FAILED";
      assert.equal(code, expected, `wrapped DEK byte ${String(at)}`);
    }
  });

  it("rejects a value ciphertext truncated, extended, or emptied", () => {
    const ct = sealed.value.ciphertext;
    for (const ciphertext of [ct.subarray(0, -1), Uint8Array.of(...ct, 0), new Uint8Array(0)]) {
      assert.equal(
        codeOf(() => openVersion(scopeKey, withValue({ ciphertext }), aadFor(PLACE))),
        "DECRYPT_FAILED",
      );
    }
  });

  it("rejects a wrong scope key with DECRYPT_FAILED naming the data key's place", () => {
    assert.throws(() => openVersion(AesKey.generate(), sealed, aadFor(PLACE)), {
      name: "CofferError",
      code: "DECRYPT_FAILED",
      message: /^cannot decrypt the data key of project\/payments STRIPE_SECRET v7: /,
      details: { owner: "project/payments", key: "STRIPE_SECRET", version: 7, scopeKeyId: "sk-9" },
    });
  });

  it("rejects a wrapped DEK swapped in from another version with DECRYPT_FAILED", () => {
    const other = sealVersion(scopeKey, Secret.of(plaintext), aadFor(PLACE));
    assert.throws(() => openVersion(scopeKey, { ...sealed, wrappedDek: other.wrappedDek }, aadFor(PLACE)), {
      code: "DECRYPT_FAILED",
      message: /^cannot decrypt the value of project\/payments STRIPE_SECRET v7: /,
    });
  });
});
