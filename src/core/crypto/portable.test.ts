import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { z } from "zod";
import { CofferError } from "../errors/index.ts";
import { AesKey } from "./aes-key.ts";
import type { Effects } from "./effects.ts";
import { formatPortable, openPortable, parsePortable, sealPortable } from "./portable.ts";

const Hex = z.string().regex(/^(?:[0-9a-f]{2})*$/);
const VectorFile = z.object({
  SOURCE: z.string().min(1),
  keyHex: Hex.length(64),
  vectors: z
    .array(z.object({ name: z.string(), kid: z.string().nullable(), ivHex: Hex.length(24), plaintextHex: Hex, portable: z.string() }))
    .min(4),
});
const golden = VectorFile.parse(
  JSON.parse(readFileSync(new URL("../../../test/vectors/portable/aes-256-gcm-no-aad.json", import.meta.url), "utf8")) as unknown,
);
const goldenKey = AesKey.fromBytes(Buffer.from(golden.keyHex, "hex"), "golden key");

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
const pinned = (iv: Uint8Array): Effects => ({ random: () => Uint8Array.from(iv), now: () => new Date(0) });

/** What a legacy system did: AES-256-GCM with bare node:crypto and no associated data. */
function legacyEncrypt(key: Uint8Array, plaintext: Uint8Array): { iv: Buffer; tag: Buffer; ct: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), ct };
}

function legacyDecrypt(key: Uint8Array, iv: string, tag: string, ct: string): Buffer {
  const d = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"));
  d.setAuthTag(Buffer.from(tag, "base64"));
  return Buffer.concat([d.update(Buffer.from(ct, "base64")), d.final()]);
}

describe("portable golden vectors", () => {
  it("carries a SOURCE note naming how they were made", () => {
    assert.match(golden.SOURCE, /node:crypto/);
  });

  for (const v of golden.vectors) {
    it(`opens the ${v.name} written by a legacy system`, () => {
      const p = parsePortable(v.portable);
      assert.equal(p.kid, v.kid);
      assert.equal(p.version, v.kid === null ? 1 : 2);
      assert.equal(Buffer.from(openPortable(goldenKey, p)).toString("hex"), v.plaintextHex);
    });

    it(`writes the ${v.name} byte for byte given the same iv`, () => {
      const text = sealPortable(goldenKey, Buffer.from(v.plaintextHex, "hex"), v.kid, pinned(Buffer.from(v.ivHex, "hex")));
      assert.equal(text, v.portable);
    });

    it(`formats the parsed ${v.name} back to the same text`, () => {
      assert.equal(formatPortable(parsePortable(v.portable)), v.portable);
    });
  }
});

describe("sealPortable and openPortable", () => {
  it("round-trip arbitrary bytes as v1 and as v2", () => {
    const key = AesKey.generate();
    const kid = fc.option(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/), { nil: null });
    const bytes = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 65536, size: "max" }));
    fc.assert(
      fc.property(bytes, kid, (plaintext, k) => {
        const text = sealPortable(key, plaintext, k);
        assert.ok(text.startsWith(k === null ? "v1:" : `v2:${k}:`));
        const p = parsePortable(text);
        assert.equal(p.kid, k);
        assert.deepEqual(new Uint8Array(openPortable(key, p)), plaintext);
      }),
      { numRuns: 60 },
    );
  });

  it("opens a v1 value encrypted by bare node:crypto and formatted by hand", () => {
    const raw = randomBytes(32);
    const { iv, tag, ct } = legacyEncrypt(raw, Buffer.from("legacy secret"));
    const text = `v1:${iv.toString("base64")}:${tag.toString("base64")}:${ct.toString("base64")}`;
    assert.equal(Buffer.from(openPortable(AesKey.fromBytes(raw, "k"), parsePortable(text))).toString(), "legacy secret");
  });

  it("opens a v2 value encrypted by bare node:crypto and formatted by hand", () => {
    const raw = randomBytes(32);
    const { iv, tag, ct } = legacyEncrypt(raw, Buffer.from("legacy secret 2"));
    const text = `v2:old-kek_1.0:${iv.toString("base64")}:${tag.toString("base64")}:${ct.toString("base64")}`;
    const p = parsePortable(text);
    assert.equal(p.kid, "old-kek_1.0");
    assert.equal(Buffer.from(openPortable(AesKey.fromBytes(raw, "k"), p)).toString(), "legacy secret 2");
  });

  it("writes v1 and v2 values that bare node:crypto can decrypt without associated data", () => {
    const raw = randomBytes(32);
    const key = AesKey.fromBytes(raw, "k");
    const [, iv1 = "", tag1 = "", ct1 = ""] = sealPortable(key, Buffer.from("to legacy"), null).split(":");
    assert.equal(legacyDecrypt(raw, iv1, tag1, ct1).toString(), "to legacy");
    const [v, kid, iv2 = "", tag2 = "", ct2 = ""] = sealPortable(key, Buffer.from("to legacy 2"), "k7").split(":");
    assert.deepEqual([v, kid], ["v2", "k7"]);
    assert.equal(legacyDecrypt(raw, iv2, tag2, ct2).toString(), "to legacy 2");
  });

  it("rejects an invalid kid when sealing with CIPHERTEXT_MALFORMED", () => {
    for (const kid of ["", "-lead", "has space", "a:b", "x".repeat(65)]) {
      assert.throws(() => sealPortable(AesKey.generate(), Uint8Array.of(1), kid), { code: "CIPHERTEXT_MALFORMED" }, kid);
    }
  });

  it("rejects a wrong key with DECRYPT_FAILED naming the kid", () => {
    const p = parsePortable(sealPortable(AesKey.generate(), Buffer.from("x"), "k1"));
    assert.throws(() => openPortable(AesKey.generate(), p), { code: "DECRYPT_FAILED", details: { kid: "k1" } });
    const p1 = parsePortable(sealPortable(AesKey.generate(), Buffer.from("x"), null));
    assert.throws(() => openPortable(AesKey.generate(), p1), { code: "DECRYPT_FAILED", details: {} });
  });

  it("rejects a value with any byte of its iv, tag or ciphertext flipped", () => {
    const key = AesKey.generate();
    const p = parsePortable(sealPortable(key, Buffer.from("tamper me please"), null));
    for (const field of ["nonce", "tag", "ciphertext"] as const) {
      for (let at = 0; at < p[field].byteLength; at++) {
        const bytes = Uint8Array.from(p[field]);
        bytes[at] = bytes[at]! ^ 0x01;
        assert.throws(() => openPortable(key, { ...p, [field]: bytes }), { code: "DECRYPT_FAILED" }, `${field} byte ${String(at)}`);
      }
    }
  });
});

describe("parsePortable", () => {
  const iv = b64(new Uint8Array(12).fill(1));
  const tag = b64(new Uint8Array(16).fill(2));
  const ct = b64(Uint8Array.of(3, 4, 5, 6));
  const ctOne = b64(Uint8Array.of(0xff)); // "/w==": padding bits make non-canonical twins possible

  it("accepts a well-formed v1 and v2 value and an empty ciphertext", () => {
    assert.equal(parsePortable(`v1:${iv}:${tag}:${ct}`).version, 1);
    assert.equal(parsePortable(`v2:k1:${iv}:${tag}:${ct}`).kid, "k1");
    assert.equal(parsePortable(`v1:${iv}:${tag}:`).ciphertext.byteLength, 0);
  });

  const hostile: readonly (readonly [string, string])[] = [
    ["an 11-byte iv", `v1:${b64(new Uint8Array(11))}:${tag}:${ct}`],
    ["a 13-byte iv", `v1:${b64(new Uint8Array(13))}:${tag}:${ct}`],
    ["a 16-byte iv", `v2:k1:${b64(new Uint8Array(16))}:${tag}:${ct}`],
    ["an empty iv", `v1::${tag}:${ct}`],
    ["a 12-byte tag", `v1:${iv}:${b64(new Uint8Array(12))}:${ct}`],
    ["a 15-byte tag", `v1:${iv}:${b64(new Uint8Array(15))}:${ct}`],
    ["a 17-byte tag", `v2:k1:${iv}:${b64(new Uint8Array(17))}:${ct}`],
    ["non-canonical base64 in the ciphertext", `v1:${iv}:${tag}:/x==`],
    ["missing padding in the ciphertext", `v1:${iv}:${tag}:${ctOne.replace(/=+$/, "")}`],
    ["the URL-safe alphabet in the ciphertext", `v1:${iv}:${tag}:_w==`],
    ["whitespace inside the tag", `v1:${iv}:${tag.slice(0, 4)} ${tag.slice(4)}:${ct}`],
    ["hex instead of base64 in the iv", `v1:${"01".repeat(12)}:${tag}:${ct}`],
    ["unknown version v3", `v3:${iv}:${tag}:${ct}`],
    ["unknown version v0", `v0:k1:${iv}:${tag}:${ct}`],
    ["an upper-case version", `V1:${iv}:${tag}:${ct}`],
    ["an empty string", ""],
    ["v1 with 3 parts", `v1:${iv}:${tag}`],
    ["v1 with 5 parts", `v1:${iv}:${tag}:${ct}:${ct}`],
    ["v1 given a kid", `v1:k1:${iv}:${tag}:${ct}`],
    ["v2 with 4 parts (no kid)", `v2:${iv}:${tag}:${ct}`],
    ["v2 with 6 parts", `v2:k1:${iv}:${tag}:${ct}:${ct}`],
    ["v2 with an empty kid", `v2::${iv}:${tag}:${ct}`],
    ["v2 with a kid starting with '-'", `v2:-k:${iv}:${tag}:${ct}`],
    ["v2 with a kid holding a space", `v2:k 1:${iv}:${tag}:${ct}`],
    ["v2 with a non-ASCII kid", `v2:ключ:${iv}:${tag}:${ct}`],
    ["v2 with a 65-char kid", `v2:${"k".repeat(65)}:${iv}:${tag}:${ct}`],
  ];
  for (const [what, text] of hostile) {
    it(`rejects ${what} with CIPHERTEXT_MALFORMED`, () => {
      let err: unknown;
      try {
        parsePortable(text);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof CofferError, "expected a CofferError");
      assert.equal(err.code, "CIPHERTEXT_MALFORMED");
      assert.match(err.message, /^portable value: /);
      for (const part of [iv, tag, ct]) assert.ok(!err.message.includes(part), "message echoes a base64 field");
    });
  }
});

describe("parsePortable error messages", () => {
  it("never repeat the input, even when a plaintext is passed by mistake", () => {
    for (const text of ["hunter2-super-secret", "v3:hunter2-secret", "hunter2"]) {
      assert.throws(
        () => parsePortable(text),
        (e: unknown) => e instanceof CofferError && e.code === "CIPHERTEXT_MALFORMED" && !e.message.includes("hunter"),
      );
    }
  });
});

describe("sealPortable with a broken random source", () => {
  it("refuses a nonce of the wrong length instead of writing unreadable data", () => {
    const fx: Effects = { random: (n) => new Uint8Array(n + 4), now: () => new Date(0) };
    assert.throws(
      () => sealPortable(AesKey.generate(), Uint8Array.of(1), null, fx),
      (e: unknown) => e instanceof CofferError && e.code === "INTERNAL",
    );
  });
});
