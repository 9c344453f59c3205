import type { Owner } from "../model/index.ts";
import { ownerIdColumn } from "../model/index.ts";

/**
 * Associated data, one type per ciphertext kind, so a seal or open call cannot forget or
 * swap its context. Encoded in one place, {@link encodeAad}: each field as a 4-byte
 * big-endian length followed by its UTF-8 bytes, after a label naming the kind. No joined
 * strings, so ("a/b","c") and ("a","b/c") never collide.
 */
export type ValueAad = {
  readonly kind: "value";
  readonly owner: Owner;
  readonly name: string;
  readonly version: number;
};
export type DekAad = {
  readonly kind: "dek";
  readonly owner: Owner;
  readonly name: string;
  readonly version: number;
  readonly scopeKeyId: string;
};
export type ScopeKeyAad = {
  readonly kind: "scope-key";
  readonly owner: Owner;
  readonly scopeKeyId: string;
  readonly kid: string;
};
/** Keys Coffer uses for itself (the audit MAC key), wrapped by a KEK like scope keys. */
export type InternalKeyAad = {
  readonly kind: "internal-key";
  readonly purpose: string;
  readonly keyId: string;
  readonly kid: string;
};
/** A KEK provider's own known-answer check at boot. */
export type ProbeAad = { readonly kind: "probe"; readonly kid: string };
export type WrapAad = ScopeKeyAad | InternalKeyAad | ProbeAad;
export type Aad = ValueAad | DekAad | WrapAad;

/** Format version of every AAD; bumped only with a migration that rewrites ciphertexts. */
export const AAD_FORMAT = 1;

/**
 * Fields are encoded into one scratch buffer that grows as needed (one native UTF-8 write per
 * field, no buffer per field): AADs and state MACs are encoded on every seal, open and row
 * check. Only public context passes through it (names, ids, versions, times), never a value
 * or a key, and it is used synchronously, so sharing it is safe.
 */
let scratch = Buffer.allocUnsafe(1024);

/** Encodes `fields` into the scratch buffer. @returns the encoded length (valid until the next call). */
function encodeIntoScratch(fields: readonly (string | number)[]): number {
  let at = 0;
  for (const f of fields) {
    const text = typeof f === "string" ? f : String(f);
    const len = text.length;
    // A UTF-16 code unit is at most 3 bytes of UTF-8: room for the worst case, so write never truncates.
    const need = at + 4 + len * 3;
    if (need > scratch.byteLength) {
      const grown = Buffer.allocUnsafe(Math.max(need, scratch.byteLength * 2));
      scratch.copy(grown, 0, 0, at);
      scratch = grown;
    }
    const start = at + 4;
    // ASCII (names, ids, times, numbers: nearly every field) is one byte per code unit, copied
    // here: a native UTF-8 write per short field cost more than the bytes (about 0.08 µs a call,
    // 11 calls per state MAC). Anything else goes through the native encoder, from the start.
    let i = 0;
    for (; i < len; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      scratch[start + i] = c;
    }
    const n = i === len ? len : scratch.write(text, start, "utf8");
    scratch[at] = n >>> 24;
    scratch[at + 1] = (n >>> 16) & 0xff;
    scratch[at + 2] = (n >>> 8) & 0xff;
    scratch[at + 3] = n & 0xff;
    at = start + n;
  }
  return at;
}

/** Each field as a 4-byte big-endian length and its UTF-8 bytes, in order. */
export function encodeFields(fields: readonly (string | number)[]): Uint8Array {
  const n = encodeIntoScratch(fields);
  const out = new Uint8Array(n);
  out.set(scratch.subarray(0, n));
  return out;
}

/** Passes the {@link encodeFields} encoding of `fields` to `use` without copying it (for a MAC's update). */
export function withEncodedFields<T>(fields: readonly (string | number)[], use: (bytes: Uint8Array) => T): T {
  const n = encodeIntoScratch(fields);
  return use(scratch.subarray(0, n));
}

export function encodeAad(aad: Aad): Uint8Array {
  const head = ["coffer", AAD_FORMAT, aad.kind] as const;
  switch (aad.kind) {
    case "value":
      return encodeFields([...head, aad.owner.kind, ownerIdColumn(aad.owner), aad.name, aad.version]);
    case "dek":
      return encodeFields([...head, aad.owner.kind, ownerIdColumn(aad.owner), aad.name, aad.version, aad.scopeKeyId]);
    case "scope-key":
      return encodeFields([...head, aad.owner.kind, ownerIdColumn(aad.owner), aad.scopeKeyId, aad.kid]);
    case "internal-key":
      return encodeFields([...head, aad.purpose, aad.keyId, aad.kid]);
    case "probe":
      return encodeFields([...head, aad.kid]);
  }
}
