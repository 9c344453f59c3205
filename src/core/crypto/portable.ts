import { CofferError } from "../errors/index.ts";
import type { AesKey } from "./aes-key.ts";
import { gcmOpen, gcmSeal, NONCE_BYTES, TAG_BYTES } from "./aead.ts";
import { decodeBase64Strict, encodeBase64 } from "./bytes.ts";
import { systemEffects, type Effects } from "./effects.ts";

/**
 * The portable single-value strings of seed 000, read and written for interop with systems
 * that stored values this way before Coffer:
 *
 *   v1:<iv_b64>:<tag_b64>:<cipher_b64>        encrypted directly with one master key
 *   v2:<kid>:<iv_b64>:<tag_b64>:<cipher_b64>  the key chosen from a keyring by kid
 *
 * AES-256-GCM, 12-byte iv, 16-byte tag, standard padded base64, and no associated data (the
 * systems that wrote them used none). Coffer's own store never uses this format.
 */
export type Portable = {
  readonly version: 1 | 2;
  readonly kid: string | null;
  readonly nonce: Uint8Array;
  readonly tag: Uint8Array;
  readonly ciphertext: Uint8Array;
};

const NO_AAD = new Uint8Array(0);
const KID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function malformed(rule: string): CofferError {
  return new CofferError("CIPHERTEXT_MALFORMED", `portable value: ${rule}`);
}

function b64(field: string, text: string, bytes?: number): Uint8Array {
  const out = decodeBase64Strict(text);
  if (out === null) throw malformed(`${field} is not canonical base64`);
  if (bytes !== undefined && out.byteLength !== bytes)
    throw malformed(`${field} must be ${String(bytes)} bytes, got ${String(out.byteLength)}`);
  return out;
}

/** @throws CofferError CIPHERTEXT_MALFORMED for an unknown version or any malformed part. */
export function parsePortable(text: string): Portable {
  const parts = text.trim().split(":");
  const version = parts[0];
  if (version !== "v1" && version !== "v2") throw malformed("unknown format version (expected v1: or v2:)");
  const expected = version === "v1" ? 4 : 5;
  if (parts.length !== expected) throw malformed(`${version} needs ${String(expected)} ':'-separated parts, got ${String(parts.length)}`);
  const rest = version === "v1" ? parts.slice(1) : parts.slice(2);
  const kid = version === "v2" ? (parts[1] ?? "") : null;
  if (kid !== null && !KID.test(kid)) throw malformed("kid must be 1-64 chars of letters, digits, '.', '_', '-'");
  const [iv = "", tag = "", cipher = ""] = rest;
  return {
    version: version === "v1" ? 1 : 2,
    kid,
    nonce: b64("iv", iv, NONCE_BYTES),
    tag: b64("tag", tag, TAG_BYTES),
    ciphertext: b64("cipher", cipher),
  };
}

export function formatPortable(p: Portable): string {
  const body = `${encodeBase64(p.nonce)}:${encodeBase64(p.tag)}:${encodeBase64(p.ciphertext)}`;
  return p.version === 1 ? `v1:${body}` : `v2:${p.kid ?? ""}:${body}`;
}

/** Encrypts to `v1:` when `kid` is null, else to `v2:<kid>:`. */
export function sealPortable(key: AesKey, plaintext: Uint8Array, kid: string | null, fx: Effects = systemEffects): string {
  if (kid !== null && !KID.test(kid)) throw malformed("kid must be 1-64 chars of letters, digits, '.', '_', '-'");
  const s = gcmSeal(key, plaintext, NO_AAD, fx);
  return formatPortable({ version: kid === null ? 1 : 2, kid, nonce: s.nonce, tag: s.tag, ciphertext: s.ciphertext });
}

/**
 * Decrypts a parsed portable value with the key its caller picked (the master key for v1, the
 * keyring entry named by `p.kid` for v2).
 * @throws CofferError DECRYPT_FAILED when the key is wrong or the value was changed.
 */
export function openPortable(key: AesKey, p: Portable): Uint8Array {
  const out = gcmOpen(key, { alg: "A256GCM", nonce: p.nonce, tag: p.tag, ciphertext: p.ciphertext }, NO_AAD);
  if (out === null) {
    const kid = p.kid === null ? {} : { kid: p.kid };
    throw new CofferError("DECRYPT_FAILED", `cannot decrypt a v${String(p.version)} portable value: wrong key or tampered data`, kid);
  }
  return out;
}
