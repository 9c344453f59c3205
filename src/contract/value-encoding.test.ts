import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { decodeValue, encodeValue } from "./value-encoding.ts";

/** The rule as the contract states it: text when decoding and encoding again gives the same bytes. */
function byRoundTrip(bytes: Uint8Array): "text" | "base64" {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  return Buffer.from(new TextEncoder().encode(text)).equals(Buffer.from(bytes)) ? "text" : "base64";
}

const CASES: readonly (readonly [string, readonly number[]])[] = [
  ["empty", []],
  ["ascii", [...Buffer.from("pw-1")]],
  ["multi-byte text", [...Buffer.from("päss 🔑 ключ")]],
  ["a U+FFFD in the text", [...Buffer.from("a\uFFFDb")]],
  ["a leading byte-order mark", [0xef, 0xbb, 0xbf, 0x61]],
  ["a byte-order mark alone", [0xef, 0xbb, 0xbf]],
  ["a byte-order mark inside", [0x61, 0xef, 0xbb, 0xbf]],
  ["a stray continuation byte", [0x61, 0x80]],
  ["an overlong slash", [0xc0, 0xaf]],
  ["a CESU-8 surrogate", [0xed, 0xa0, 0x80]],
  ["a truncated sequence", [0xe2, 0x82]],
  ["past U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ["a NUL", [0x00, 0x61]],
];

describe("encodeValue", () => {
  for (const [name, list] of CASES) {
    it(`follows the round-trip rule: ${name}`, () => {
      const bytes = Uint8Array.from(list);
      const enc = encodeValue(bytes);
      assert.equal(enc.value === null ? "base64" : "text", byRoundTrip(bytes));
      assert.deepEqual([...decodeValue(enc)], list);
    });
  }

  it("follows the round-trip rule on random bytes and on random text", () => {
    for (let i = 0; i < 2000; i++) {
      const bytes = i % 2 === 0 ? randomBytes(i % 40) : Buffer.from(String.fromCodePoint(...[...randomBytes(6)].map((b) => b * 977)));
      const enc = encodeValue(bytes);
      assert.equal(enc.value === null ? "base64" : "text", byRoundTrip(bytes), bytes.toString("hex"));
      assert.ok(Buffer.from(decodeValue(enc)).equals(bytes));
    }
  });
});
