import type { AesKey, WrapAad } from "../crypto/index.ts";
import type { Kid } from "../model/index.ts";

export const PROVIDER_KINDS = ["file", "env", "keyring", "keychain", "aws-kms", "vault-transit", "gcp-kms", "azure-key-vault"] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** What may be shown about a KEK: never key bytes. */
export type ProviderInfo = {
  readonly kid: Kid;
  readonly provider: ProviderKind;
  /**
   * Identifies the key without revealing it: a keyed fingerprint of a local key, or for a key
   * held by a key service a hash of its (non-secret) reference, see `remote-kek.ts`.
   */
  readonly fingerprint: string;
};

/**
 * A key-encryption key, wherever it lives. Wraps and unwraps scope keys and internal keys;
 * never hands out its own bytes. KMS providers implement the same port.
 */
export interface KekProvider {
  readonly kind: ProviderKind;
  readonly kid: Kid;
  wrap(key: AesKey, aad: WrapAad): Promise<Uint8Array>;
  unwrap(wrapped: Uint8Array, aad: WrapAad): Promise<AesKey>;
  describe(): ProviderInfo;
  /** Releases connections (a key service client); local keys have nothing to release. */
  close?(): void;
}
