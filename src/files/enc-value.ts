import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { CofferError } from "../core/errors/index.ts";

/**
 * One SOPS value: `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<t>]` (FORMAT.md §2).
 * AES-256-GCM from node:crypto with sops's 32-byte IV and 16-byte tag; the AAD is the value's
 * key path joined with `:` plus a final `:` (FORMAT.md §3), built by the caller.
 */
export const VALUE_TYPES = ["str", "int", "float", "bool", "comment", "bytes", "time"] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

/** A leaf's plaintext in sops's canonical byte form (`ToBytes`): what is encrypted and MAC'd. */
export type Plain = { readonly type: ValueType; readonly bytes: Uint8Array };

const IV_BYTES = 32;
const TAG_BYTES = 16;
const ENC = /^ENC\[AES256_GCM,data:([^,]*),iv:([^,]+),tag:([^,]+),type:([a-z]+)\]$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export type EncValue = { readonly data: Uint8Array; readonly iv: Uint8Array; readonly tag: Uint8Array; readonly type: ValueType };

export function isEncValue(text: string): boolean {
  return text.startsWith("ENC[AES256_GCM,");
}

/** @throws CofferError CIPHERTEXT_MALFORMED naming `where` (a key path, never the value). */
export function parseEncValue(text: string, where: string): EncValue {
  const m = ENC.exec(text);
  const bad = (why: string): CofferError =>
    new CofferError("CIPHERTEXT_MALFORMED", `${where}: not a valid ENC[AES256_GCM,…] value (${why})`, { path: where });
  if (m === null) throw bad("syntax");
  const [, data = "", iv = "", tag = "", type = ""] = m;
  if (![data, iv, tag].every((b) => B64.test(b))) throw bad("bad base64");
  if (!(VALUE_TYPES as readonly string[]).includes(type)) throw bad(`unknown type '${type.slice(0, 16)}'`);
  const ivBytes = Buffer.from(iv, "base64");
  const tagBytes = Buffer.from(tag, "base64");
  if (ivBytes.byteLength === 0 || tagBytes.byteLength !== TAG_BYTES) throw bad("bad iv or tag length");
  return { data: Buffer.from(data, "base64"), iv: ivBytes, tag: tagBytes, type: type as ValueType };
}

export function formatEncValue(v: EncValue): string {
  const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
  return `ENC[AES256_GCM,data:${b64(v.data)},iv:${b64(v.iv)},tag:${b64(v.tag)},type:${v.type}]`;
}

/** Encrypts one plaintext under the data key with a fresh random 32-byte IV. Empty stays empty (sops). */
export function encryptValue(dataKey: Uint8Array, plain: Plain, aad: string): string {
  if (plain.bytes.byteLength === 0 && plain.type !== "comment") return "";
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", dataKey, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const data = Buffer.concat([cipher.update(plain.bytes), cipher.final()]);
  return formatEncValue({ data, iv, tag: cipher.getAuthTag(), type: plain.type });
}

/**
 * Decrypts one ENC[] string. `""` decrypts to an empty `str` (sops).
 * @throws CofferError CIPHERTEXT_MALFORMED (syntax) or DECRYPT_FAILED (tag: wrong key, changed
 * byte, or a value moved to another key path), naming the path only.
 */
export function decryptValue(dataKey: Uint8Array, text: string, aad: string, where: string): Plain {
  if (text === "") return { type: "str", bytes: new Uint8Array(0) };
  const v = parseEncValue(text, where);
  try {
    const d = createDecipheriv("aes-256-gcm", dataKey, v.iv, { authTagLength: TAG_BYTES });
    d.setAAD(Buffer.from(aad, "utf8"));
    d.setAuthTag(v.tag);
    const bytes = Buffer.concat([d.update(v.data), d.final()]);
    return { type: v.type, bytes };
  } catch {
    throw new CofferError(
      "DECRYPT_FAILED",
      `${where}: the value did not authenticate (wrong data key, a changed byte, or a value moved from another key)`,
      { path: where },
    );
  }
}
