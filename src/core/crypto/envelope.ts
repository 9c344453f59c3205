import { Secret } from "../secret/index.ts";
import { AesKey } from "./aes-key.ts";
import { open, seal, type Sealed } from "./aead.ts";
import type { DekAad, ValueAad } from "./aad.ts";
import { systemEffects, type Effects } from "./effects.ts";
import { unwrapKey, wrapKey } from "./wrapped-key.ts";

/** A sealed secret version: the value under a fresh DEK, the DEK wrapped by the scope key. */
export type SealedVersion = {
  readonly value: Sealed;
  readonly wrappedDek: Uint8Array;
};

/**
 * Encrypts one version of a secret. A DEK encrypts exactly this one message and is then
 * dropped; it lives on only wrapped by the owner's scope key.
 */
export function sealVersion(
  scopeKey: AesKey,
  secret: Secret,
  aad: { readonly value: ValueAad; readonly dek: DekAad },
  fx: Effects = systemEffects,
): SealedVersion {
  const dek = AesKey.generate(fx);
  const plaintext = secret.reveal();
  try {
    return { value: seal(dek, plaintext, aad.value, fx), wrappedDek: wrapKey(scopeKey, dek, aad.dek, fx) };
  } finally {
    plaintext.fill(0);
  }
}

/** @throws CofferError DECRYPT_FAILED (naming owner, key name, version), CIPHERTEXT_MALFORMED, UNSUPPORTED_ALGORITHM. */
export function openVersion(scopeKey: AesKey, sealed: SealedVersion, aad: { readonly value: ValueAad; readonly dek: DekAad }): Secret {
  const dek = unwrapKey(scopeKey, sealed.wrappedDek, aad.dek);
  return Secret.adopt(open(dek, sealed.value, aad.value));
}
