import { CofferError } from "../errors/index.ts";
import { AesKey, KEY_BYTES } from "./aes-key.ts";
import { open, seal, NONCE_BYTES, TAG_BYTES, type Sealed } from "./aead.ts";
import type { DekAad, WrapAad } from "./aad.ts";
import { concatBytes } from "./bytes.ts";
import { systemEffects, type Effects } from "./effects.ts";

/**
 * A wrapped key blob, for DEKs, scope keys and internal keys:
 *
 *   byte 0      format version (1)
 *   byte 1      algorithm (1 = A256GCM)
 *   bytes 2-13  nonce (12)
 *   bytes 14-29 tag (16)
 *   bytes 30-61 encrypted key (32)
 *
 * Parsed strictly: a wrong version or length is CIPHERTEXT_MALFORMED, an unknown algorithm
 * UNSUPPORTED_ALGORITHM; nothing is sliced off unchecked.
 */
export const WRAPPED_KEY_FORMAT = 1;
const ALG_IDS = { A256GCM: 1 } as const;
export const WRAPPED_KEY_BYTES = 2 + NONCE_BYTES + TAG_BYTES + KEY_BYTES;

export function encodeWrappedKey(sealed: Sealed): Uint8Array {
  return concatBytes(Uint8Array.of(WRAPPED_KEY_FORMAT, ALG_IDS[sealed.alg]), sealed.nonce, sealed.tag, sealed.ciphertext);
}

/** @throws CofferError CIPHERTEXT_MALFORMED or UNSUPPORTED_ALGORITHM. */
export function decodeWrappedKey(blob: Uint8Array): Sealed {
  if (blob.byteLength < 2 || blob[0] !== WRAPPED_KEY_FORMAT) {
    throw new CofferError("CIPHERTEXT_MALFORMED", `wrapped key has unknown format version ${String(blob[0] ?? "none")}`);
  }
  if (blob[1] !== ALG_IDS.A256GCM) {
    throw new CofferError("UNSUPPORTED_ALGORITHM", `wrapped key uses unknown algorithm id ${String(blob[1])}`, { alg: String(blob[1]) });
  }
  if (blob.byteLength !== WRAPPED_KEY_BYTES) {
    throw new CofferError("CIPHERTEXT_MALFORMED", `wrapped key is ${String(blob.byteLength)} bytes, expected ${String(WRAPPED_KEY_BYTES)}`);
  }
  const nonce = blob.subarray(2, 2 + NONCE_BYTES);
  const tag = blob.subarray(2 + NONCE_BYTES, 2 + NONCE_BYTES + TAG_BYTES);
  return { alg: "A256GCM", nonce, tag, ciphertext: blob.subarray(2 + NONCE_BYTES + TAG_BYTES) };
}

/** Encrypts `key` under `wrappingKey`, bound to `aad`. */
export function wrapKey(wrappingKey: AesKey, key: AesKey, aad: DekAad | WrapAad, fx: Effects = systemEffects): Uint8Array {
  const bytes = key.exportBytes();
  try {
    return encodeWrappedKey(seal(wrappingKey, bytes, aad, fx));
  } finally {
    bytes.fill(0);
  }
}

/** @throws CofferError DECRYPT_FAILED, CIPHERTEXT_MALFORMED, UNSUPPORTED_ALGORITHM. */
export function unwrapKey(wrappingKey: AesKey, blob: Uint8Array, aad: DekAad | WrapAad): AesKey {
  const bytes = open(wrappingKey, decodeWrappedKey(blob), aad);
  try {
    return AesKey.fromBytes(bytes, "unwrapped key");
  } finally {
    bytes.fill(0);
  }
}
