import { hash } from "node:crypto";

/**
 * SHA-256 of a high-entropy secret (an API token, a share-link token), hex. Enough for lookup
 * by hash: the input is 256 random bits, so no salt or slow hash is needed, and the stored hash
 * cannot be turned back into the token.
 */
export function sha256Hex(data: Uint8Array | string): string {
  // One-shot: about a third of createHash().update().digest() for a token (no Hash object).
  return hash("sha256", data, "hex");
}
