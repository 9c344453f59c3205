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

export function encodeFields(fields: readonly (string | number)[]): Uint8Array {
  const parts = fields.map((f) => Buffer.from(String(f), "utf8"));
  const out = Buffer.alloc(parts.reduce((n, p) => n + 4 + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.writeUInt32BE(p.byteLength, at);
    p.copy(out, at + 4);
    at += 4 + p.byteLength;
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
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
