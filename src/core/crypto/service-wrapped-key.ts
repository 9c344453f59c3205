import { CofferError } from "../errors/index.ts";
import { concatBytes } from "./bytes.ts";

/**
 * A key wrapped by a key-management service (AWS KMS, Vault/OpenBao Transit). The service's
 * ciphertext is opaque and variable-length, so it gets a format of its own beside the local
 * 62-byte one (format 1, `wrapped-key.ts`, unchanged); the format byte tells them apart:
 *
 *   byte 0      format version (2 = wrapped by a key service)
 *   byte 1      service (1 = aws-kms, 2 = vault-transit, 3 = gcp-kms, 4 = azure-key-vault)
 *   bytes 2-5   length n of the service ciphertext, u32 big-endian, 1 ≤ n ≤ 8192
 *   bytes 6-…   the service ciphertext: exactly n bytes, nothing after it
 *
 * Parsed strictly: a wrong format, an unknown service, a length that disagrees with the blob
 * or a blob of another service than the kid's is CIPHERTEXT_MALFORMED; nothing is guessed.
 */
export const SERVICE_WRAPPED_KEY_FORMAT = 2;
export const KEY_SERVICES = ["aws-kms", "vault-transit", "gcp-kms", "azure-key-vault"] as const;
export type KeyService = (typeof KEY_SERVICES)[number];
const SERVICE_IDS: Readonly<Record<KeyService, number>> = Object.freeze({
  "aws-kms": 1,
  "vault-transit": 2,
  "gcp-kms": 3,
  "azure-key-vault": 4,
});
/** AWS KMS ciphertexts are at most 6144 bytes; Transit's `vault:vN:…` for a 32-byte key ~90. */
export const MAX_SERVICE_CIPHERTEXT_BYTES = 8192;
const HEAD_BYTES = 6;

export function encodeServiceWrappedKey(service: KeyService, ciphertext: Uint8Array): Uint8Array {
  if (ciphertext.byteLength < 1 || ciphertext.byteLength > MAX_SERVICE_CIPHERTEXT_BYTES) {
    throw new CofferError(
      "CIPHERTEXT_MALFORMED",
      `${service} returned a ${String(ciphertext.byteLength)}-byte ciphertext; expected 1 to ${String(MAX_SERVICE_CIPHERTEXT_BYTES)}`,
    );
  }
  const head = new Uint8Array(HEAD_BYTES);
  head[0] = SERVICE_WRAPPED_KEY_FORMAT;
  head[1] = SERVICE_IDS[service];
  new DataView(head.buffer).setUint32(2, ciphertext.byteLength, false);
  return concatBytes(head, ciphertext);
}

/**
 * The service ciphertext inside `blob`, checked to come from `service`.
 * @throws CofferError CIPHERTEXT_MALFORMED.
 */
export function decodeServiceWrappedKey(blob: Uint8Array, service: KeyService): Uint8Array {
  if (blob.byteLength < HEAD_BYTES || blob[0] !== SERVICE_WRAPPED_KEY_FORMAT) {
    const what = blob[0] === 1 ? "is wrapped by a local key (format 1)" : `has unknown format version ${String(blob[0] ?? "none")}`;
    throw new CofferError("CIPHERTEXT_MALFORMED", `wrapped key ${what}, but its kid is a ${service} key`);
  }
  const named = KEY_SERVICES.find((s) => SERVICE_IDS[s] === blob[1]);
  if (named !== service) {
    throw new CofferError(
      "CIPHERTEXT_MALFORMED",
      `wrapped key names key service ${named ?? `id ${String(blob[1])}`}, but its kid is a ${service} key`,
    );
  }
  const n = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(2, false);
  if (n < 1 || n > MAX_SERVICE_CIPHERTEXT_BYTES || blob.byteLength !== HEAD_BYTES + n) {
    throw new CofferError(
      "CIPHERTEXT_MALFORMED",
      `wrapped key says its ciphertext is ${String(n)} bytes, but it is ${String(blob.byteLength)} bytes in all`,
    );
  }
  return blob.subarray(HEAD_BYTES);
}
