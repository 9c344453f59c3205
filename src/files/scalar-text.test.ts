import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decryptValue, encryptValue, parseEncValue } from "./enc-value.ts";
import { formatFloat, plainToScalar, scalarToPlain } from "./scalar-text.ts";

describe("sops value text (FORMAT.md §2)", () => {
  it("formats floats like Go's FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent", () => {
    for (const [v, text] of [
      [3.14, "3.14"],
      [7, "7"],
      [-0.5, "-0.5"],
      [1e21, "1000000000000000000000"],
      [1.5e-7, "0.00000015"],
      [123456789.125, "123456789.125"],
    ] as const)
      assert.equal(formatFloat(v), text);
  });

  it("writes bools as True/False and reads every Go ParseBool spelling", () => {
    assert.equal(Buffer.from(scalarToPlain({ kind: "bool", value: true }).bytes).toString(), "True");
    for (const t of ["1", "t", "T", "TRUE", "true", "True"])
      assert.deepEqual(plainToScalar({ type: "bool", bytes: Buffer.from(t) }, "x"), { kind: "bool", value: true });
    assert.throws(() => plainToScalar({ type: "bool", bytes: Buffer.from("yes") }, "x"), /CIPHERTEXT_MALFORMED|does not parse/);
  });

  it("round-trips a value and refuses it under another key path (AAD)", () => {
    const key = Buffer.alloc(32, 7);
    const enc = encryptValue(key, { type: "int", bytes: Buffer.from("42") }, "a:b:");
    assert.match(enc, /^ENC\[AES256_GCM,data:[^,]+,iv:[A-Za-z0-9+/]{43}=,tag:[^,]+,type:int\]$/);
    assert.deepEqual(Buffer.from(decryptValue(key, enc, "a:b:", "a.b").bytes).toString(), "42");
    assert.throws(
      () => decryptValue(key, enc, "a:c:", "a.c"),
      (e: Error & { code?: string }) => e.code === "DECRYPT_FAILED",
    );
  });

  it("keeps an empty string empty, and parses ENC strictly", () => {
    assert.equal(encryptValue(Buffer.alloc(32), { type: "str", bytes: new Uint8Array(0) }, "k:"), "");
    for (const bad of [
      "ENC[AES256_GCM,data:x,iv:,tag:,type:str]",
      "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:weird]",
      "ENC[XCHACHA,data:AA==]",
    ])
      assert.throws(
        () => parseEncValue(bad, "k"),
        (e: Error & { code?: string }) => e.code === "CIPHERTEXT_MALFORMED",
      );
  });
});
