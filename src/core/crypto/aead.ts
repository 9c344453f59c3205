import { createCipheriv, createDecipheriv } from "node:crypto";
import { CofferError, type ErrorDetails } from "../errors/index.ts";
import { formatOwner } from "../model/index.ts";
import type { AesKey } from "./aes-key.ts";
import { encodeAad, type Aad } from "./aad.ts";
import { systemEffects, type Effects } from "./effects.ts";

/** The algorithm id stored beside every ciphertext. Others (XChaCha20-Poly1305) can join later. */
export const ALGS = ["A256GCM"] as const;
export type Alg = (typeof ALGS)[number];
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

export type Sealed = {
  readonly alg: Alg;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly tag: Uint8Array;
};

/** @throws CofferError UNSUPPORTED_ALGORITHM for any id Coffer does not implement. */
export function parseAlg(id: string): Alg {
  if ((ALGS as readonly string[]).includes(id)) return id as Alg;
  throw new CofferError("UNSUPPORTED_ALGORITHM", `unsupported algorithm '${id.slice(0, 32)}'; this Coffer knows ${ALGS.join(", ")}`, {
    alg: id.slice(0, 32),
  });
}

/** AES-256-GCM with a fresh random 96-bit nonce. */
export function gcmSeal(key: AesKey, plaintext: Uint8Array, aad: Uint8Array, fx: Effects = systemEffects): Sealed {
  const nonce = fx.random(NONCE_BYTES);
  if (nonce.byteLength !== NONCE_BYTES)
    throw new CofferError(
      "INTERNAL",
      `the random source returned ${String(nonce.byteLength)} bytes for a ${String(NONCE_BYTES)}-byte nonce`,
    );
  const cipher = createCipheriv("aes-256-gcm", key.keyObject, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { alg: "A256GCM", nonce, ciphertext, tag: cipher.getAuthTag() };
}

/**
 * Returns the plaintext, or `null` when the tag does not authenticate (never garbage).
 * @throws CofferError CIPHERTEXT_MALFORMED when the nonce or tag has the wrong length (a
 * format error, not a failed authentication).
 */
export function gcmOpen(key: AesKey, sealed: Sealed, aad: Uint8Array): Uint8Array | null {
  if (sealed.nonce.byteLength !== NONCE_BYTES || sealed.tag.byteLength !== TAG_BYTES) {
    throw new CofferError(
      "CIPHERTEXT_MALFORMED",
      `ciphertext has a ${String(sealed.nonce.byteLength)}-byte nonce and a ${String(sealed.tag.byteLength)}-byte tag; expected ${String(NONCE_BYTES)} and ${String(TAG_BYTES)}`,
    );
  }
  const decipher = createDecipheriv("aes-256-gcm", key.keyObject, sealed.nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.tag);
  const out = decipher.update(sealed.ciphertext);
  try {
    return Buffer.concat([out, decipher.final()]);
  } catch {
    out.fill(0);
    return null;
  }
}

export function seal(key: AesKey, plaintext: Uint8Array, aad: Aad, fx: Effects = systemEffects): Sealed {
  return gcmSeal(key, plaintext, encodeAad(aad), fx);
}

/**
 * @throws CofferError DECRYPT_FAILED naming where the ciphertext belongs (owner, key name,
 * version, key ids) when the key is wrong, a byte was changed, or it was moved from elsewhere.
 */
export function open(key: AesKey, sealed: Sealed, aad: Aad): Uint8Array {
  const plaintext = gcmOpen(key, sealed, encodeAad(aad));
  if (plaintext !== null) return plaintext;
  const where = describeAad(aad);
  throw new CofferError(
    "DECRYPT_FAILED",
    `cannot decrypt ${where.text}: wrong key, tampered data, or a ciphertext moved from another place`,
    where.details,
  );
}

function describeAad(aad: Aad): { text: string; details: ErrorDetails } {
  switch (aad.kind) {
    case "value":
    case "dek": {
      const owner = formatOwner(aad.owner);
      const sk = aad.kind === "dek" ? { scopeKeyId: aad.scopeKeyId } : {};
      const what = aad.kind === "value" ? "the value of" : "the data key of";
      return {
        text: `${what} ${owner} ${aad.name} v${String(aad.version)}`,
        details: { owner, key: aad.name, version: aad.version, ...sk },
      };
    }
    case "scope-key": {
      const owner = formatOwner(aad.owner);
      return {
        text: `the scope key ${aad.scopeKeyId} of ${owner} with kid ${aad.kid}`,
        details: { owner, scopeKeyId: aad.scopeKeyId, kid: aad.kid },
      };
    }
    case "internal-key":
      return { text: `the ${aad.purpose} key with kid ${aad.kid}`, details: { purpose: aad.purpose, kid: aad.kid } };
    case "probe":
      return { text: `the boot probe of kid ${aad.kid}`, details: { kid: aad.kid } };
  }
}
