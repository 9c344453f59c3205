import { CofferError } from "../errors/index.ts";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { z } from "zod";
import { OwnerId } from "../model/index.ts";
import type { ValueAad } from "./aad.ts";
import { gcmOpen, gcmSeal, open, parseAlg, seal, NONCE_BYTES, TAG_BYTES, type Sealed } from "./aead.ts";
import { AesKey } from "./aes-key.ts";
import { toHex } from "./bytes.ts";
import type { Effects } from "./effects.ts";

const Hex = z.string().regex(/^(?:[0-9a-f]{2})*$/);
const KatFile = z.object({
  SOURCE: z.string().min(1),
  vectors: z.array(z.object({ name: z.string(), keyHex: Hex, ivHex: Hex, ptHex: Hex, aadHex: Hex, ctHex: Hex, tagHex: Hex })).min(6),
});
const kat = KatFile.parse(
  JSON.parse(readFileSync(new URL("../../../test/vectors/aes-gcm/aes-256-gcm-kat.json", import.meta.url), "utf8")) as unknown,
);

const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, "hex"));

/** Effects whose `random` hands out `nonce` once, so a vector's IV can be pinned. */
function pinnedNonce(nonce: Uint8Array): Effects {
  let used = false;
  return {
    random: (n) => {
      assert.equal(n, NONCE_BYTES, "gcmSeal draws exactly one 96-bit nonce");
      assert.equal(used, false, "the pinned nonce is drawn only once");
      used = true;
      return Uint8Array.from(nonce);
    },
    now: () => new Date(0),
  };
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[at] = out[at]! ^ 0x01;
  return out;
}

/** Small and large values alike: with `size: "max"` lengths spread over the whole 0..65536 range. */
const VALUE_BYTES = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 65536, size: "max" }));

const AAD: ValueAad = { kind: "value", owner: { kind: "project", id: OwnerId.parse("web") }, name: "DB_URL", version: 4 };

describe("AES-256-GCM known answers", () => {
  it("has a SOURCE note for its vectors", () => {
    assert.match(kat.SOURCE, /McGrew/);
    assert.match(kat.SOURCE, /CAVP/);
  });

  for (const v of kat.vectors) {
    it(`agrees with bare node:crypto on ${v.name}`, () => {
      const cipher = createCipheriv("aes-256-gcm", Buffer.from(v.keyHex, "hex"), Buffer.from(v.ivHex, "hex"), { authTagLength: 16 });
      cipher.setAAD(Buffer.from(v.aadHex, "hex"));
      const ct = Buffer.concat([cipher.update(Buffer.from(v.ptHex, "hex")), cipher.final()]);
      assert.equal(ct.toString("hex"), v.ctHex);
      assert.equal(cipher.getAuthTag().toString("hex"), v.tagHex);
    });

    const key = AesKey.fromBytes(hex(v.keyHex), v.name);
    const sealed: Sealed = { alg: "A256GCM", nonce: hex(v.ivHex), ciphertext: hex(v.ctHex), tag: hex(v.tagHex) };
    if (v.ivHex.length === NONCE_BYTES * 2) {
      it(`gcmSeal with a pinned nonce reproduces ${v.name}`, () => {
        const s = gcmSeal(key, hex(v.ptHex), hex(v.aadHex), pinnedNonce(hex(v.ivHex)));
        assert.equal(s.alg, "A256GCM");
        assert.equal(toHex(s.nonce), v.ivHex);
        assert.equal(toHex(s.ciphertext), v.ctHex);
        assert.equal(toHex(s.tag), v.tagHex);
      });
      it(`gcmOpen recovers the plaintext of ${v.name}`, () => {
        const pt = gcmOpen(key, sealed, hex(v.aadHex));
        assert.ok(pt !== null);
        assert.equal(toHex(pt), v.ptHex);
      });
      it(`gcmOpen returns null for ${v.name} with any tag byte flipped`, () => {
        for (let i = 0; i < TAG_BYTES; i++) {
          assert.equal(gcmOpen(key, { ...sealed, tag: flip(sealed.tag, i) }, hex(v.aadHex)), null, `tag byte ${String(i)}`);
        }
      });
    } else {
      it(`gcmOpen refuses the ${String(v.ivHex.length * 4)}-bit nonce of ${v.name} even with its valid tag`, () => {
        assert.throws(
          () => gcmOpen(key, sealed, hex(v.aadHex)),
          (e: unknown) => e instanceof CofferError && e.code === "CIPHERTEXT_MALFORMED",
        );
      });
    }
  }
});

describe("gcmOpen", () => {
  const key = AesKey.generate();
  const s = gcmSeal(key, new TextEncoder().encode("payload"), new Uint8Array([1, 2, 3]));

  it("rejects a nonce or tag of the wrong length as malformed, never trying to authenticate it", () => {
    const aad = Uint8Array.of(1, 2, 3);
    const malformed = (e: unknown) => e instanceof CofferError && e.code === "CIPHERTEXT_MALFORMED";
    for (const n of [0, 8, 11, 13, 16]) {
      const nonce = Uint8Array.from({ length: n }, (_, i) => s.nonce[i] ?? 0);
      assert.throws(() => gcmOpen(key, { ...s, nonce }, aad), malformed, `${String(n)}-byte nonce`);
    }
    // A truncated GCM tag is a forgery aid: only the full 16 bytes may authenticate.
    for (const n of [0, 4, 8, 12, 15])
      assert.throws(() => gcmOpen(key, { ...s, tag: s.tag.subarray(0, n) }, aad), malformed, `${String(n)}-byte tag`);
    assert.throws(() => gcmOpen(key, { ...s, tag: Uint8Array.of(...s.tag, 0) }, aad), malformed, "17-byte tag");
  });

  it("returns null for other associated data, including none", () => {
    for (const aad of [new Uint8Array(0), Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3, 0), Uint8Array.of(1, 2, 4)]) {
      assert.equal(gcmOpen(key, s, aad), null);
    }
  });

  it("returns null for another key", () => {
    assert.equal(gcmOpen(AesKey.generate(), s, Uint8Array.of(1, 2, 3)), null);
  });

  it("interoperates with bare node:crypto given the same associated data", () => {
    const d = createDecipheriv("aes-256-gcm", key.keyObject, s.nonce, { authTagLength: 16 });
    d.setAAD(Uint8Array.of(1, 2, 3));
    d.setAuthTag(s.tag);
    assert.equal(Buffer.concat([d.update(s.ciphertext), d.final()]).toString("utf8"), "payload");
  });
});

describe("seal", () => {
  it("never repeats a nonce across 100,000 encryptions under one key", () => {
    const key = AesKey.generate();
    const plaintext = Uint8Array.of(0x2a);
    const nonces = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const s = seal(key, plaintext, AAD);
      assert.equal(s.nonce.byteLength, NONCE_BYTES);
      nonces.add(toHex(s.nonce));
    }
    assert.equal(nonces.size, 100_000);
  });

  it("produces a fresh ciphertext for the same plaintext, key and AAD", () => {
    const key = AesKey.generate();
    const a = seal(key, Uint8Array.of(1, 2, 3), AAD);
    const b = seal(key, Uint8Array.of(1, 2, 3), AAD);
    assert.notEqual(toHex(a.ciphertext) + toHex(a.tag), toHex(b.ciphertext) + toHex(b.tag));
  });
});

describe("open", () => {
  it("round-trips arbitrary bytes from 0 to 65536 long", () => {
    const key = AesKey.generate();
    fc.assert(
      fc.property(VALUE_BYTES, (plaintext) => {
        const s = seal(key, plaintext, AAD);
        assert.equal(s.ciphertext.byteLength, plaintext.byteLength);
        assert.deepEqual(new Uint8Array(open(key, s, AAD)), plaintext);
      }),
      { numRuns: 40 },
    );
  });

  it("round-trips the empty value and a full 64 KiB value", () => {
    const key = AesKey.generate();
    for (const n of [0, 65536]) {
      const plaintext = new Uint8Array(n).fill(0x5a);
      assert.deepEqual(new Uint8Array(open(key, seal(key, plaintext, AAD), AAD)), plaintext);
    }
  });

  it("rejects a wrong key with DECRYPT_FAILED naming the place", () => {
    const s = seal(AesKey.generate(), new TextEncoder().encode("hunter2"), AAD);
    assert.throws(() => open(AesKey.generate(), s, AAD), {
      name: "CofferError",
      code: "DECRYPT_FAILED",
      message: /^cannot decrypt the value of project\/web DB_URL v4: /,
      details: { owner: "project/web", key: "DB_URL", version: 4 },
    });
  });

  it("rejects a ciphertext opened under another place's AAD", () => {
    const key = AesKey.generate();
    const s = seal(key, new TextEncoder().encode("hunter2"), AAD);
    assert.throws(() => open(key, s, { ...AAD, version: 5 }), {
      code: "DECRYPT_FAILED",
      details: { owner: "project/web", key: "DB_URL", version: 5 },
    });
  });
});

describe("parseAlg", () => {
  it("accepts A256GCM", () => {
    assert.equal(parseAlg("A256GCM"), "A256GCM");
  });

  it("rejects XC20P and other unknown ids with UNSUPPORTED_ALGORITHM", () => {
    for (const id of ["XC20P", "a256gcm", "A256GCM ", "A128GCM", "", "aes-256-gcm"]) {
      assert.throws(() => parseAlg(id), { name: "CofferError", code: "UNSUPPORTED_ALGORITHM", details: { alg: id } });
    }
  });

  it("names the supported algorithms in its message", () => {
    assert.throws(() => parseAlg("XC20P"), { message: /unsupported algorithm 'XC20P'; this Coffer knows A256GCM/ });
  });
});
