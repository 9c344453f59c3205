import type { TokenCredential } from "@azure/core-auth";
import type { CryptographyClient, CryptographyClientOptions, KeyClient } from "@azure/keyvault-keys";
import { AesKey, encodeFields, gcmOpen, gcmSeal } from "../crypto/index.ts";
import { CofferError, type ErrorCode } from "../errors/index.ts";
import type { Kid } from "../model/index.ts";
import type { AzureKeyRef, AzureSettings, ServiceCallSettings } from "./key-service-settings.ts";
import type { KeyServiceClient } from "./remote-kek.ts";

/** `https://<vault>.vault.azure.net/keys/<name>[/<version>]` (also Managed HSM and sovereign clouds). */
const KEY_URL = /^https:\/\/([A-Za-z0-9.-]+(?::[0-9]{1,5})?)\/keys\/([A-Za-z0-9-]{1,127})(?:\/([A-Za-z0-9]{1,64}))?\/?$/;

/**
 * Parses `COFFER_AZURE_KEY_ID`. Returns null when it is not a Key Vault key URL.
 */
export function parseAzureKeyId(text: string): AzureKeyRef | null {
  const m = KEY_URL.exec(text);
  if (m === null) return null;
  return { vaultUrl: `https://${m[1] ?? ""}`, name: m[2] ?? "", version: m[3] ?? null };
}

/** The wrap algorithm: RSA-OAEP with SHA-256 (RSA and RSA-HSM keys, 2048 bits or more). */
export const AZURE_WRAP_ALGORITHM = "RSA-OAEP-256";
/** Layout of the ciphertext Coffer stores for an Azure-wrapped key (inside service-wrapped format 2). */
const LAYOUT = 1;
const LABEL = "coffer/azure-key-vault-wrap/v1";
const NONCE = 12;
const TAG = 16;

/**
 * Key Vault error codes and statuses → stable codes. 401/403 are access, 404 a missing key or
 * version, 429 throttling (after the SDK's retries, which honour Retry-After), 400 on unwrap a
 * ciphertext that does not decrypt.
 */
function classify(status: number | undefined, code: string, text: string): readonly [ErrorCode, string] {
  if (status === 401) return ["KEY_ACCESS_DENIED", "the access token was not accepted (Unauthorized)"];
  if (status === 403 && /disabled/i.test(text)) return ["KEY_DISABLED", "the Key Vault key is disabled"];
  if (status === 403) return ["KEY_ACCESS_DENIED", "forbidden by the vault's access policy or RBAC (needs wrapKey/unwrapKey and get)"];
  if (status === 404) return ["KEY_NOT_FOUND", "no such key or key version in the vault"];
  if (status === 429) return ["KEY_THROTTLED", "throttled by Azure Key Vault"];
  if (status === 400) return ["DECRYPT_FAILED", "the vault could not unwrap this ciphertext with this key version"];
  if (status !== undefined && status >= 500) return ["KEY_UNAVAILABLE", `Key Vault answered ${String(status)}`];
  if (code === "REQUEST_SEND_ERROR" || code === "ECONNREFUSED" || code === "ENOTFOUND") return ["KEY_UNAVAILABLE", "cannot connect"];
  if (/timeout|aborted/i.test(code)) return ["KEY_UNAVAILABLE", "timed out"];
  return ["KEY_UNAVAILABLE", "unreachable or failing"];
}

type Sdk = {
  readonly mod: typeof import("@azure/keyvault-keys");
  readonly credential: TokenCredential;
  readonly options: CryptographyClientOptions;
};

/**
 * Azure Key Vault (or Managed HSM) through the official SDK (`@azure/keyvault-keys`,
 * `@azure/identity`), loaded on first use.
 *
 * Key Vault's `wrapKey` takes no associated data, so the AAD is bound this way: each wrap
 * draws a fresh random 256-bit key B; the vault wraps B (`POST …/keys/<name>/<version>/wrapkey`,
 * RSA-OAEP-256); B seals the key being wrapped with AES-256-GCM whose associated data is the
 * wrap AAD together with the layout, key version and wrapped B. Unwrapping asks the vault to
 * unwrap B, then opens the seal with the AAD of the row being read: a ciphertext moved to
 * another row, kid or key version fails (DECRYPT_FAILED). B is never stored in clear, and the
 * vault never sees the key being wrapped.
 *
 * Stored ciphertext (before the service-wrapped header): `1` ‖ len(version) ‖ version ‖
 * u16 len(wrapped B) ‖ wrapped B ‖ nonce(12) ‖ sealed key ‖ tag(16). The key version is
 * kept so a key rotated in Azure still unwraps its old ciphertexts; a versionless key id is
 * resolved to the current version at first use.
 *
 * Retries are the SDK's (exponential backoff, 429 with Retry-After, 5xx, network), bounded to
 * `maxAttempts`; each attempt has `timeoutMs`. Credentials: a static token when
 * `accessToken` is set, else DefaultAzureCredential (environment, workload identity, managed
 * identity, Azure CLI), with `authorityHost` when set.
 */
export class AzureKeyVaultClient implements KeyServiceClient {
  readonly service = "azure-key-vault";
  readonly keyRef: string;
  readonly #kid: Kid;
  readonly #ref: AzureKeyRef;
  readonly #calls: ServiceCallSettings;
  readonly #settings: AzureSettings | null;
  #sdk: Promise<Sdk> | null = null;
  #version: Promise<string> | null = null;
  readonly #byVersion = new Map<string, CryptographyClient>();

  constructor(kid: Kid, ref: AzureKeyRef, opts: { readonly calls: ServiceCallSettings; readonly settings: AzureSettings | null }) {
    this.#kid = kid;
    this.#ref = ref;
    this.keyRef = `${ref.vaultUrl}/keys/${ref.name}${ref.version === null ? "" : `/${ref.version}`}`;
    this.#calls = opts.calls;
    this.#settings = opts.settings;
  }

  async encrypt(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const version = await this.#currentVersion();
    const client = await this.#client(version);
    const bind = AesKey.generate();
    const bindBytes = bind.exportBytes();
    let wrapped: Uint8Array;
    try {
      wrapped = (await this.#send("wrapKey", () => client.wrapKey(AZURE_WRAP_ALGORITHM, bindBytes, this.#opts()))).result;
    } finally {
      bindBytes.fill(0);
    }
    if (wrapped.byteLength < 1 || wrapped.byteLength > 4096) throw this.#malformed("wrapKey");
    const head = header(version, wrapped);
    const sealed = gcmSeal(bind, plaintext, sealAad(head, aad));
    return Buffer.concat([head, sealed.nonce, sealed.ciphertext, sealed.tag]);
  }

  async decrypt(ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const parsed = parseBlob(ciphertext);
    if (parsed === null) {
      throw new CofferError("CIPHERTEXT_MALFORMED", `wrapped key for kid '${this.#kid}' is not an Azure Key Vault wrap`, {
        kid: this.#kid,
      });
    }
    const client = await this.#client(parsed.version);
    const out = await this.#send("unwrapKey", () => client.unwrapKey(AZURE_WRAP_ALGORITHM, parsed.wrapped, this.#opts()));
    let bind: AesKey;
    try {
      bind = AesKey.fromBytes(out.result, `key unwrapped by Azure Key Vault for kid '${this.#kid}'`);
    } finally {
      out.result.fill(0);
    }
    const pt = gcmOpen(
      bind,
      { alg: "A256GCM", nonce: parsed.nonce, ciphertext: parsed.sealed, tag: parsed.tag },
      sealAad(parsed.head, aad),
    );
    if (pt === null) {
      throw new CofferError(
        "DECRYPT_FAILED",
        `Azure Key Vault unwrap for kid '${this.#kid}': the wrapped key does not authenticate under this row's associated data`,
        { kid: this.#kid, provider: "azure-key-vault" },
      );
    }
    return pt;
  }

  /**
   * The vault's plain `wrapKey` (RSA-OAEP-256) of `key`, without Coffer's AAD envelope: for
   * formats that store the vault's result as is (a SOPS `azure_kv` stanza). Returns the key
   * version used, which `unwrapKeyRaw` needs.
   */
  async wrapKeyRaw(key: Uint8Array): Promise<{ readonly version: string; readonly wrapped: Uint8Array }> {
    const version = await this.#currentVersion();
    const client = await this.#client(version);
    const out = await this.#send("wrapKey", () => client.wrapKey(AZURE_WRAP_ALGORITHM, key, this.#opts()));
    return { version, wrapped: out.result };
  }

  /** The vault's plain `unwrapKey` (RSA-OAEP-256) under `version` (null: the configured or current one). */
  async unwrapKeyRaw(wrapped: Uint8Array, version: string | null): Promise<Uint8Array> {
    const client = await this.#client(version ?? (await this.#currentVersion()));
    return (await this.#send("unwrapKey", () => client.unwrapKey(AZURE_WRAP_ALGORITHM, wrapped, this.#opts()))).result;
  }

  close(): void {
    // The SDK's pipeline keeps no handle that needs closing.
  }

  #opts(): { requestOptions: { timeout: number } } {
    return { requestOptions: { timeout: this.#calls.timeoutMs } };
  }

  #load(): Promise<Sdk> {
    this.#sdk ??= (async () => {
      const mod = await import("@azure/keyvault-keys");
      const s = this.#settings;
      let credential: TokenCredential;
      if (s?.accessToken != null) {
        const token = s.accessToken;
        credential = {
          getToken: () => Promise.resolve({ token: token.revealText(), expiresOnTimestamp: Date.now() + 5 * 60_000 }),
        };
      } else {
        const identity = await import("@azure/identity");
        credential = new identity.DefaultAzureCredential(s?.authorityHost == null ? {} : { authorityHost: s.authorityHost });
      }
      const host = new URL(this.#ref.vaultUrl).hostname;
      const options: CryptographyClientOptions = {
        retryOptions: { maxRetries: this.#calls.maxAttempts - 1, retryDelayInMs: 100, maxRetryDelayInMs: 2000 },
        // The challenge's resource must match the vault's domain; a loopback address (a local
        // proxy or a protocol fake) has no such domain.
        ...(isLoopback(host) ? { disableChallengeResourceVerification: true } : {}),
        // node:tls loaded here only: every CLI start (`coffer run`) would otherwise pay for it.
        ...(s?.caCertificates == null ? {} : { tlsOptions: { ca: [...(await import("node:tls")).rootCertificates, s.caCertificates] } }),
      };
      return { mod, credential, options };
    })();
    return this.#sdk;
  }

  /** The configured version, or the key's current version (resolved once per process). */
  #currentVersion(): Promise<string> {
    if (this.#ref.version !== null) return Promise.resolve(this.#ref.version);
    this.#version ??= (async () => {
      const { mod, credential, options } = await this.#load();
      const keys: KeyClient = new mod.KeyClient(this.#ref.vaultUrl, credential, options);
      const key = await this.#send("getKey", () => keys.getKey(this.#ref.name, this.#opts()));
      const v = key.properties.version;
      if (v === undefined || !/^[A-Za-z0-9]{1,64}$/.test(v)) throw this.#malformed("getKey");
      return v;
    })();
    this.#version.catch(() => {
      this.#version = null;
    });
    return this.#version;
  }

  async #client(version: string): Promise<CryptographyClient> {
    const known = this.#byVersion.get(version);
    if (known !== undefined) return known;
    const { mod, credential, options } = await this.#load();
    const client = new mod.CryptographyClient(`${this.#ref.vaultUrl}/keys/${this.#ref.name}/${version}`, credential, options);
    this.#byVersion.set(version, client);
    return client;
  }

  async #send<T>(op: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      const err = (e ?? {}) as { statusCode?: unknown; code?: unknown; name?: unknown; message?: unknown };
      const status = typeof err.statusCode === "number" ? err.statusCode : undefined;
      const code = typeof err.code === "string" ? err.code : typeof err.name === "string" ? err.name : "Error";
      const [stable, what] = classify(status, code, typeof err.message === "string" ? err.message.slice(0, 300) : "");
      throw new CofferError(
        stable,
        `Azure Key Vault ${op} for kid '${this.#kid}' (key ${this.keyRef}) failed: ${what}${status === undefined ? "" : ` (HTTP ${String(status)})`}`,
        { kid: this.#kid, provider: "azure-key-vault", operation: op, ...(status === undefined ? {} : { httpStatus: status }) },
      );
    }
  }

  #malformed(op: string): CofferError {
    return new CofferError("CIPHERTEXT_MALFORMED", `Azure Key Vault ${op} for kid '${this.#kid}' returned no usable data`, {
      kid: this.#kid,
    });
  }
}

function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === "[::1]" || host === "localhost";
}

function header(version: string, wrapped: Uint8Array): Buffer {
  const v = Buffer.from(version, "ascii");
  const len = Buffer.alloc(2);
  len.writeUInt16BE(wrapped.byteLength);
  return Buffer.concat([Buffer.from([LAYOUT, v.byteLength]), v, len, wrapped]);
}

function sealAad(head: Uint8Array, aad: Uint8Array): Uint8Array {
  return Buffer.concat([encodeFields([LABEL]), encodeFields([Buffer.from(head).toString("base64")]), aad]);
}

type Blob = {
  readonly head: Uint8Array;
  readonly version: string;
  readonly wrapped: Uint8Array;
  readonly nonce: Uint8Array;
  readonly sealed: Uint8Array;
  readonly tag: Uint8Array;
};

/** Strict parse of the layout above; null when anything disagrees. */
function parseBlob(blob: Uint8Array): Blob | null {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < 2 || b[0] !== LAYOUT) return null;
  const vlen = b[1] ?? 0;
  if (vlen < 1 || vlen > 64 || b.length < 2 + vlen + 2) return null;
  const version = b.subarray(2, 2 + vlen).toString("ascii");
  if (!/^[A-Za-z0-9]+$/.test(version)) return null;
  const wlen = b.readUInt16BE(2 + vlen);
  const headEnd = 2 + vlen + 2 + wlen;
  if (wlen < 1 || b.length < headEnd + NONCE + 1 + TAG) return null;
  return {
    head: b.subarray(0, headEnd),
    version,
    wrapped: b.subarray(2 + vlen + 2, headEnd),
    nonce: b.subarray(headEnd, headEnd + NONCE),
    sealed: b.subarray(headEnd + NONCE, b.length - TAG),
    tag: b.subarray(b.length - TAG),
  };
}
