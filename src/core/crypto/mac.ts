import { createHmac } from "node:crypto";
import type { AesKey } from "./aes-key.ts";
import { toHex } from "./bytes.ts";

/** HMAC-SHA-256 keyed with a 256-bit key. */
export function hmacSha256(key: AesKey, data: Uint8Array): Uint8Array {
  return createHmac("sha256", key.keyObject).update(data).digest();
}

/**
 * A key's fingerprint: the first 8 bytes of HMAC-SHA-256(key, label), in hex. Keyed, so it
 * identifies a key without revealing anything usable about it; never an unkeyed hash.
 */
export function fingerprintKey(key: AesKey): string {
  return toHex(hmacSha256(key, new TextEncoder().encode("coffer/kek-fingerprint/v1")).subarray(0, 8));
}
