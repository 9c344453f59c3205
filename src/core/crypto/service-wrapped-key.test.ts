import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { codeOf } from "../../../test/fixtures/caught.ts";
import { toHex } from "./bytes.ts";
import { decodeServiceWrappedKey, encodeServiceWrappedKey, MAX_SERVICE_CIPHERTEXT_BYTES } from "./service-wrapped-key.ts";

const CT = new TextEncoder().encode("vault:v1:AAAA");

describe("service-wrapped key format", () => {
  it("encodes format 2, the service id and a big-endian length before the service ciphertext (golden)", () => {
    assert.equal(toHex(encodeServiceWrappedKey("vault-transit", CT)), `02020000000d${toHex(CT)}`);
    assert.equal(toHex(encodeServiceWrappedKey("aws-kms", Uint8Array.of(0xab))), "020100000001ab");
  });

  it("round-trips any ciphertext of 1 to 8192 bytes", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: MAX_SERVICE_CIPHERTEXT_BYTES }),
        fc.constantFrom("aws-kms", "vault-transit"),
        (ct, s) => {
          assert.deepEqual(decodeServiceWrappedKey(encodeServiceWrappedKey(s, ct), s), ct);
        },
      ),
      { numRuns: 50 },
    );
  });

  const good = encodeServiceWrappedKey("aws-kms", Uint8Array.of(1, 2, 3));
  const hostile: readonly (readonly [string, Uint8Array])[] = [
    ["empty", new Uint8Array()],
    ["a local format-1 blob", Uint8Array.of(1, 1, ...new Uint8Array(60))],
    ["an unknown format", Uint8Array.of(3, 1, 0, 0, 0, 1, 0)],
    ["an unknown service", Uint8Array.of(2, 9, 0, 0, 0, 1, 0)],
    ["the other service", encodeServiceWrappedKey("vault-transit", Uint8Array.of(1, 2, 3))],
    ["a truncated blob", good.subarray(0, good.length - 1)],
    ["a byte appended", Uint8Array.of(...good, 0)],
    ["a zero length", Uint8Array.of(2, 1, 0, 0, 0, 0)],
    ["a length over the maximum", Uint8Array.of(2, 1, 0xff, 0xff, 0xff, 0xff, 1)],
    ["a header only", good.subarray(0, 6)],
  ];
  for (const [what, blob] of hostile) {
    it(`rejects ${what} as CIPHERTEXT_MALFORMED`, () => {
      assert.equal(
        codeOf(() => decodeServiceWrappedKey(blob, "aws-kms")),
        "CIPHERTEXT_MALFORMED",
      );
    });
  }

  it("refuses to encode an empty or oversized service ciphertext", () => {
    assert.equal(
      codeOf(() => encodeServiceWrappedKey("aws-kms", new Uint8Array())),
      "CIPHERTEXT_MALFORMED",
    );
    assert.equal(
      codeOf(() => encodeServiceWrappedKey("aws-kms", new Uint8Array(MAX_SERVICE_CIPHERTEXT_BYTES + 1))),
      "CIPHERTEXT_MALFORMED",
    );
  });
});
