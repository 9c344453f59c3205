import { fingerprintKey, unwrapKey, wrapKey, type AesKey, type WrapAad } from "../crypto/index.ts";
import type { Kid } from "../model/index.ts";
import type { KekProvider, ProviderInfo, ProviderKind } from "./kek-provider.ts";

/** A KEK whose key is held in this process (file, env, keyring file). */
export class LocalKek implements KekProvider {
  readonly kind: ProviderKind;
  readonly kid: Kid;
  readonly #key: AesKey;
  readonly #fingerprint: string;

  constructor(kind: ProviderKind, kid: Kid, key: AesKey) {
    this.kind = kind;
    this.kid = kid;
    this.#key = key;
    this.#fingerprint = fingerprintKey(key);
  }

  wrap(key: AesKey, aad: WrapAad): Promise<Uint8Array> {
    return Promise.resolve(wrapKey(this.#key, key, aad));
  }

  unwrap(wrapped: Uint8Array, aad: WrapAad): Promise<AesKey> {
    return Promise.resolve().then(() => unwrapKey(this.#key, wrapped, aad));
  }

  /** The key itself, for the one explicit export path (key splitting, legacy import). */
  exportKey(): AesKey {
    return this.#key;
  }

  describe(): ProviderInfo {
    return { kid: this.kid, provider: this.kind, fingerprint: this.#fingerprint };
  }
}
