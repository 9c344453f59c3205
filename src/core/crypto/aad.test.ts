import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { z } from "zod";
import { OwnerId, type Owner } from "../model/index.ts";
import { encodeAad, encodeFields, type Aad, type DekAad, type ValueAad } from "./aad.ts";
import { toHex } from "./bytes.ts";

const OwnerSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("user"), id: OwnerId }),
  z.object({ kind: z.literal("project"), id: OwnerId }),
  z.object({ kind: z.literal("system") }),
]);
const AadSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("value"), owner: OwnerSchema, name: z.string(), version: z.number() }),
  z.object({ kind: z.literal("dek"), owner: OwnerSchema, name: z.string(), version: z.number(), scopeKeyId: z.string() }),
  z.object({ kind: z.literal("scope-key"), owner: OwnerSchema, scopeKeyId: z.string(), kid: z.string() }),
]);
const VectorFile = z.object({
  SOURCE: z.string().min(1),
  vectors: z.array(z.object({ name: z.string(), aad: AadSchema, hex: z.string().regex(/^[0-9a-f]*$/) })).min(3),
});

function readVectors(): z.infer<typeof VectorFile> {
  const url = new URL("../../../test/vectors/aad/encode-aad.json", import.meta.url);
  return VectorFile.parse(JSON.parse(readFileSync(url, "utf8")) as unknown);
}

/** The layout of aad.ts written out again by hand: u32 big-endian byte length, then UTF-8. */
function specEncode(fields: readonly string[]): string {
  return fields
    .map((f) => {
      const utf8 = Buffer.from(f, "utf8");
      return utf8.byteLength.toString(16).padStart(8, "0") + utf8.toString("hex");
    })
    .join("");
}

function specFields(aad: z.infer<typeof AadSchema>): string[] {
  const owner = [aad.owner.kind, aad.owner.kind === "system" ? "_" : aad.owner.id];
  const head = ["coffer", "1", aad.kind, ...owner];
  switch (aad.kind) {
    case "value":
      return [...head, aad.name, String(aad.version)];
    case "dek":
      return [...head, aad.name, String(aad.version), aad.scopeKeyId];
    case "scope-key":
      return [...head, aad.scopeKeyId, aad.kid];
  }
}

const id = (s: string): OwnerId => OwnerId.parse(s);
const value = (owner: Owner, name: string, version: number): ValueAad => ({ kind: "value", owner, name, version });

const ownerArb: fc.Arbitrary<Owner> = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).map((s) => ({ kind: "user", id: id(s) }) as const),
  fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).map((s) => ({ kind: "project", id: id(s) }) as const),
  fc.constant({ kind: "system" } as const),
);
const valueAadArb: fc.Arbitrary<ValueAad> = fc.record({
  kind: fc.constant("value" as const),
  owner: ownerArb,
  name: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/),
  version: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

describe("encodeAad", () => {
  it("matches the golden vectors in test/vectors/aad", () => {
    const file = readVectors();
    for (const v of file.vectors) {
      assert.equal(toHex(encodeAad(v.aad)), v.hex, v.name);
    }
  });

  it("matches the documented layout written out independently", () => {
    for (const v of readVectors().vectors) {
      assert.equal(v.hex, specEncode(specFields(v.aad)), v.name);
    }
  });

  it("covers a value, a data key and a scope key AAD in the golden vectors", () => {
    const kinds = new Set(readVectors().vectors.map((v) => v.aad.kind));
    assert.deepEqual([...kinds].sort(), ["dek", "scope-key", "value"]);
  });

  it("produces different bytes when a key name boundary shifts between owner id and name", () => {
    const pairs: readonly (readonly [ValueAad, ValueAad])[] = [
      [value({ kind: "project", id: id("a.b") }, "c", 1), value({ kind: "project", id: id("a") }, "b.c", 1)],
      [value({ kind: "user", id: id("ab") }, "c", 1), value({ kind: "user", id: id("a") }, "bc", 1)],
      [value({ kind: "user", id: id("a") }, "b1", 2), value({ kind: "user", id: id("a") }, "b", 12)],
      [value({ kind: "user", id: id("a") }, "x", 1), value({ kind: "project", id: id("a") }, "x", 1)],
      [value({ kind: "system" }, "x", 1), value({ kind: "project", id: id("x") }, "x", 1)],
    ];
    for (const [a, b] of pairs) {
      assert.notEqual(toHex(encodeAad(a)), toHex(encodeAad(b)), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  });

  it("tells a value AAD from a data key AAD of the same place", () => {
    const v = value({ kind: "user", id: id("alice") }, "TOKEN", 1);
    const dek: DekAad = { ...v, kind: "dek", scopeKeyId: "" };
    assert.notEqual(toHex(encodeAad(v)), toHex(encodeAad(dek)));
  });

  it("gives every kind of AAD its own bytes even with overlapping field text", () => {
    const owner: Owner = { kind: "user", id: id("k") };
    const all: readonly Aad[] = [
      { kind: "value", owner, name: "k", version: 1 },
      { kind: "dek", owner, name: "k", version: 1, scopeKeyId: "k" },
      { kind: "scope-key", owner, scopeKeyId: "k", kid: "k" },
      { kind: "internal-key", purpose: "k", keyId: "k", kid: "k" },
      { kind: "probe", kid: "k" },
    ];
    assert.equal(new Set(all.map((a) => toHex(encodeAad(a)))).size, all.length);
  });

  it("maps two ValueAads to the same bytes only when they are the same place", () => {
    fc.assert(
      fc.property(valueAadArb, valueAadArb, fc.boolean(), (a, other, copy) => {
        const b = copy ? { ...a, owner: { ...a.owner } } : other;
        const same = JSON.stringify(a) === JSON.stringify(b);
        assert.equal(toHex(encodeAad(a)) === toHex(encodeAad(b)), same);
      }),
      { numRuns: 500 },
    );
  });

  it("distinguishes two places that differ in a single field", () => {
    fc.assert(
      fc.property(valueAadArb, fc.integer({ min: 1, max: 1000 }), (a, bump) => {
        const b = { ...a, version: a.version + bump };
        assert.notEqual(toHex(encodeAad(a)), toHex(encodeAad(b)));
        const c = { ...a, name: `${a.name}x` };
        assert.notEqual(toHex(encodeAad(a)), toHex(encodeAad(c)));
      }),
      { numRuns: 200 },
    );
  });
});

describe("encodeFields", () => {
  it("separates ('a/b','c') from ('a','b/c')", () => {
    assert.notEqual(toHex(encodeFields(["a/b", "c"])), toHex(encodeFields(["a", "b/c"])));
    assert.equal(toHex(encodeFields(["a/b", "c"])), "00000003612f62" + "0000000163");
  });

  it("separates fields whose concatenations are equal", () => {
    const splits = [["ab", "c"], ["a", "bc"], ["abc"], ["abc", ""], ["", "abc"], ["a", "", "bc"]];
    assert.equal(new Set(splits.map((s) => toHex(encodeFields(s)))).size, splits.length);
  });

  it("counts UTF-8 bytes, not characters, in each length prefix", () => {
    assert.equal(toHex(encodeFields(["é"])), "00000002c3a9");
    assert.equal(toHex(encodeFields(["🔑"])), "00000004f09f9491");
    // ASCII first, then a character that is not: the whole field is UTF-8, from its start.
    for (const f of ["abcé", "K\u0000é-🔑", "x\ud800y"]) assert.equal(toHex(encodeFields([f, "z"])), specEncode([f, "z"]), f);
  });

  it("writes numbers in decimal", () => {
    assert.equal(toHex(encodeFields([7, 1234])), specEncode(["7", "1234"]));
  });

  it("encodes an empty list as no bytes", () => {
    assert.equal(encodeFields([]).byteLength, 0);
  });

  it("encodes fields larger than its scratch buffer, and returns copies that later calls do not change", () => {
    const big = ["x".repeat(5000), "é".repeat(3000), "🔑".repeat(700), 42];
    const first = encodeFields(big);
    assert.equal(toHex(first), specEncode(big.map(String)));
    const small = encodeFields(["a"]);
    assert.equal(toHex(first), specEncode(big.map(String)));
    assert.equal(toHex(small), "0000000161");
  });

  it("matches the byte-for-byte specification for arbitrary strings", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "grapheme", maxLength: 400 }), { maxLength: 12 }), (fields) => {
        assert.equal(toHex(encodeFields(fields)), specEncode(fields));
      }),
      { numRuns: 300 },
    );
  });
});
