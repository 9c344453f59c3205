import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { caught as caughtError } from "../../../test/fixtures/caught.ts";
import { inspect } from "node:util";
import fc from "fast-check";
import { CofferError } from "../errors/index.ts";
import { formatOwner, OwnerId, type Owner } from "../model/index.ts";
import { Secret } from "../secret/index.ts";
import type { DekAad, ValueAad } from "./aad.ts";
import { AesKey } from "./aes-key.ts";
import { openVersion, sealVersion, type SealedVersion } from "./envelope.ts";

/**
 * An attacker with write access to the database moves a stored version (value ciphertext and
 * wrapped DEK together) to another row. The AADs bind both to their place, so every move must
 * fail with DECRYPT_FAILED naming the place it was opened at, and never leak the plaintext.
 */
type Place = { readonly owner: Owner; readonly name: string; readonly version: number; readonly scopeKeyId: string };

function aadFor(p: Place): { readonly value: ValueAad; readonly dek: DekAad } {
  return {
    value: { kind: "value", owner: p.owner, name: p.name, version: p.version },
    dek: { kind: "dek", owner: p.owner, name: p.name, version: p.version, scopeKeyId: p.scopeKeyId },
  };
}

const CANARY = "CANARY-7d1f0c-do-not-print";
const CANARY_BYTES = new TextEncoder().encode(CANARY);

/** Everything the error could show a user or a log: none of it may hold the value. */
function assertNoPlaintext(err: CofferError): void {
  const printed = [err.message, JSON.stringify(err.details), String(err), inspect(err, { depth: 10 }), err.stack ?? ""].join("\n");
  const b = Buffer.from(CANARY_BYTES);
  for (const form of [CANARY, b.toString("hex"), b.toString("base64"), CANARY.slice(0, 8), CANARY.slice(-8)]) {
    assert.ok(!printed.includes(form), `error shows plaintext form '${form}'`);
  }
}

function assertNamesPlace(err: CofferError, p: Place): void {
  assert.equal(err.code, "DECRYPT_FAILED");
  assert.ok(err.message.includes(`${formatOwner(p.owner)} ${p.name} v${String(p.version)}`), err.message);
  assert.equal(err.details.owner, formatOwner(p.owner));
  assert.equal(err.details.key, p.name);
  assert.equal(err.details.version, p.version);
}

const alice: Owner = { kind: "user", id: OwnerId.parse("alice") };
const FROM: Place = { owner: alice, name: "DB_PASSWORD", version: 3, scopeKeyId: "sk-alice-1" };

describe("openVersion against a moved ciphertext", () => {
  const aliceKey = AesKey.generate();
  const sealed = sealVersion(aliceKey, Secret.of(CANARY_BYTES), aadFor(FROM));

  it("opens at the place it was sealed (control)", () => {
    assert.equal(openVersion(aliceKey, sealed, aadFor(FROM)).revealText(), CANARY);
  });

  const sameKeyMoves: readonly (readonly [string, Place])[] = [
    ["a project with the same id", { ...FROM, owner: { kind: "project", id: OwnerId.parse("alice") } }],
    ["another user", { ...FROM, owner: { kind: "user", id: OwnerId.parse("mallory") } }],
    ["the system owner", { ...FROM, owner: { kind: "system" } }],
    ["another key name", { ...FROM, name: "DB_PASSWORD_OLD" }],
    ["another version (rollback)", { ...FROM, version: 4 }],
    ["an earlier version", { ...FROM, version: 2 }],
    ["another scope key id", { ...FROM, scopeKeyId: "sk-alice-2" }],
  ];
  for (const [where, to] of sameKeyMoves) {
    it(`rejects a value ciphertext and wrapped DEK moved to ${where}`, () => {
      const err = caught(() => openVersion(aliceKey, sealed, aadFor(to)));
      assertNamesPlace(err, to);
      assert.equal(err.details.scopeKeyId, to.scopeKeyId);
      assertNoPlaintext(err);
    });
  }

  it("rejects a version moved to another owner whose scope key differs", () => {
    const to: Place = { owner: { kind: "project", id: OwnerId.parse("billing") }, name: FROM.name, version: 1, scopeKeyId: "sk-billing-1" };
    const err = caught(() => openVersion(AesKey.generate(), sealed, aadFor(to)));
    assertNamesPlace(err, to);
    assertNoPlaintext(err);
  });

  it("rejects a version moved to a system secret under the system scope key", () => {
    const to: Place = { owner: { kind: "system" }, name: FROM.name, version: FROM.version, scopeKeyId: "sk-system" };
    const err = caught(() => openVersion(AesKey.generate(), sealed, aadFor(to)));
    assertNamesPlace(err, to);
    assert.match(err.message, /system DB_PASSWORD v3/);
    assertNoPlaintext(err);
  });

  it("rejects a value ciphertext moved alone next to another version's wrapped DEK", () => {
    const to: Place = { ...FROM, version: 4 };
    const target = sealVersion(aliceKey, Secret.fromString("v4 value"), aadFor(to));
    const spliced: SealedVersion = { value: sealed.value, wrappedDek: target.wrappedDek };
    const err = caught(() => openVersion(aliceKey, spliced, aadFor(to)));
    assertNamesPlace(err, to);
    assert.match(err.message, /^cannot decrypt the value of /);
    assertNoPlaintext(err);
  });

  it("rejects two versions whose value ciphertexts were swapped", () => {
    const v4: Place = { ...FROM, version: 4 };
    const other = sealVersion(aliceKey, Secret.fromString("v4 value"), aadFor(v4));
    const err = caught(() => openVersion(aliceKey, { ...sealed, value: other.value }, aadFor(FROM)));
    assertNamesPlace(err, FROM);
    assertNoPlaintext(err);
  });

  it("rejects a move to any other owner, key name, version or scope key id", () => {
    const ownerIdArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).map((s) => OwnerId.parse(s));
    const placeArb: fc.Arbitrary<Place> = fc.record({
      owner: fc.oneof(
        ownerIdArb.map((id): Owner => ({ kind: "user", id })),
        ownerIdArb.map((id): Owner => ({ kind: "project", id })),
        fc.constant<Owner>({ kind: "system" }),
      ),
      name: fc.oneof(fc.constant(FROM.name), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/)),
      version: fc.oneof(fc.constant(FROM.version), fc.integer({ min: 1, max: 2 ** 31 - 1 })),
      scopeKeyId: fc.oneof(fc.constant(FROM.scopeKeyId), fc.string({ minLength: 1, maxLength: 40 })),
    });
    fc.assert(
      fc.property(placeArb, (to) => {
        fc.pre(JSON.stringify(aadFor(to)) !== JSON.stringify(aadFor(FROM)));
        const err = caught(() => openVersion(aliceKey, sealed, aadFor(to)));
        assertNamesPlace(err, to);
        assertNoPlaintext(err);
      }),
      { numRuns: 300 },
    );
  });
});

function caught(fn: () => unknown): CofferError {
  return caughtError(fn, "returned plaintext instead of failing");
}
