import { createHmac } from "node:crypto";
import type { AesKey } from "./aes-key.ts";
import { withEncodedFields } from "./aad.ts";
import { toHex } from "./bytes.ts";

/** HMAC-SHA-256 keyed with a 256-bit key. */
export function hmacSha256(key: AesKey, data: Uint8Array): Uint8Array {
  return createHmac("sha256", key.keyObject).update(data).digest();
}

/** HMAC-SHA-256 of the {@link encodeFields} encoding of `fields`, without materialising it. */
export function hmacSha256Fields(key: AesKey, fields: readonly (string | number)[]): Uint8Array {
  return withEncodedFields(fields, (bytes) => createHmac("sha256", key.keyObject).update(bytes).digest());
}

/**
 * A key's fingerprint: the first 8 bytes of HMAC-SHA-256(key, label), in hex. Keyed, so it
 * identifies a key without revealing anything usable about it; never an unkeyed hash.
 */
export function fingerprintKey(key: AesKey): string {
  return toHex(hmacSha256(key, new TextEncoder().encode("coffer/kek-fingerprint/v1")).subarray(0, 8));
}
