import { createHash } from "node:crypto";
import {
  AesKey,
  decodeServiceWrappedKey,
  encodeAad,
  encodeFields,
  encodeServiceWrappedKey,
  toHex,
  type KeyService,
  type WrapAad,
} from "../crypto/index.ts";
import type { Kid } from "../model/index.ts";
import type { KekProvider, ProviderInfo } from "./kek-provider.ts";

/**
 * The port a key-service adapter implements (AWS KMS, Vault Transit): the service's own
 * ciphertext in and out, the wrap AAD as the bytes of `encodeAad`, which the adapter binds to
 * the ciphertext its own way (AWS: encryption context; Transit: `associated_data`).
 */
export interface KeyServiceClient {
  readonly service: KeyService;
  /** The key's non-secret reference (a KMS key ARN, a Transit `mount/key`): fingerprint and messages. */
  readonly keyRef: string;
  encrypt(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  decrypt(ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  close(): void;
}

/**
 * The fingerprint of a key held by a key service: the first 8 bytes of SHA-256 over a label,
 * the service and the key reference, in hex. The reference is not secret (an ARN, a Transit
 * key name), so an unkeyed hash reveals nothing; it lets `keys status` and the boot check tell
 * kids apart, and refuses a kid whose reference changed (KEY_MISMATCH).
 */
export function fingerprintKeyRef(service: KeyService, keyRef: string): string {
  const label = "coffer/kek-ref-fingerprint/v1";
  return toHex(
    createHash("sha256")
      .update(encodeFields([label, service, keyRef]))
      .digest()
      .subarray(0, 8),
  );
}

/**
 * A KEK that lives in a key service and never leaves it: wrap sends the key to the service's
 * encrypt call, unwrap its ciphertext to decrypt, both bound to the wrap AAD. The result is
 * stored in the service-wrapped format (format 2), never the local 62-byte one.
 */
export class RemoteKek implements KekProvider {
  readonly kind: KeyService;
  readonly kid: Kid;
  readonly #client: KeyServiceClient;
  readonly #fingerprint: string;

  constructor(kid: Kid, client: KeyServiceClient) {
    this.kind = client.service;
    this.kid = kid;
    this.#client = client;
    this.#fingerprint = fingerprintKeyRef(client.service, client.keyRef);
  }

  async wrap(key: AesKey, aad: WrapAad): Promise<Uint8Array> {
    const bytes = key.exportBytes();
    try {
      return encodeServiceWrappedKey(this.kind, await this.#client.encrypt(bytes, encodeAad(aad)));
    } finally {
      bytes.fill(0);
    }
  }

  /** @throws CofferError CIPHERTEXT_MALFORMED, DECRYPT_FAILED, KEY_INVALID, or the service's KEY_* codes. */
  async unwrap(wrapped: Uint8Array, aad: WrapAad): Promise<AesKey> {
    const ciphertext = decodeServiceWrappedKey(wrapped, this.kind);
    const bytes = await this.#client.decrypt(ciphertext, encodeAad(aad));
    try {
      return AesKey.fromBytes(bytes, `key unwrapped by ${this.kind} for kid '${this.kid}'`);
    } finally {
      bytes.fill(0);
    }
  }

  describe(): ProviderInfo {
    return { kid: this.kid, provider: this.kind, fingerprint: this.#fingerprint };
  }

  close(): void {
    this.#client.close();
  }
}
