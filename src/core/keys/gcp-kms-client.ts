import type { KeyManagementServiceClient } from "@google-cloud/kms";
import { CofferError, type ErrorCode } from "../errors/index.ts";
import type { Kid } from "../model/index.ts";
import type { GcpKmsRef, GcpSettings, ServiceCallSettings } from "./key-service-settings.ts";
import type { KeyServiceClient } from "./remote-kek.ts";

/** `projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>`: the CryptoKey, never one of its versions. */
export const GCP_KMS_KEY_NAME =
  /^projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/locations\/[a-z0-9-]{1,63}\/keyRings\/[A-Za-z0-9_-]{1,63}\/cryptoKeys\/[A-Za-z0-9_-]{1,63}$/;

/** gRPC status codes (google.rpc.Code) → stable codes; `retry` marks the transient ones. */
const GRPC: Readonly<Record<number, readonly [ErrorCode, string, boolean]>> = Object.freeze({
  3: ["DECRYPT_FAILED", "the ciphertext does not authenticate under this key and additional authenticated data", false],
  4: ["KEY_UNAVAILABLE", "the deadline passed", true],
  5: ["KEY_NOT_FOUND", "no such CryptoKey (or no permission to know it exists)", false],
  7: ["KEY_ACCESS_DENIED", "permission denied (cloudkms.cryptoKeyVersions.useToEncrypt / useToDecrypt)", false],
  8: ["KEY_THROTTLED", "over a Cloud KMS quota (RESOURCE_EXHAUSTED)", true],
  9: ["KEY_DISABLED", "the key version is not enabled (disabled, destroyed or pending)", false],
  13: ["KEY_UNAVAILABLE", "Cloud KMS had an internal error", true],
  14: ["KEY_UNAVAILABLE", "Cloud KMS is unavailable", true],
  16: ["KEY_ACCESS_DENIED", "the credentials were not accepted (UNAUTHENTICATED)", false],
});

export type GcpKmsOptions = { readonly calls: ServiceCallSettings; readonly settings: GcpSettings | null };

type Sdk = { readonly client: KeyManagementServiceClient };

/**
 * Google Cloud KMS through the official SDK (`@google-cloud/kms`), loaded on first use. The
 * transport is the SDK's HTTP/1.1 REST mode (`fallback: true`: `POST
 * /v1/<name>:encrypt|decrypt`, JSON, bytes in base64), not gRPC: the same RPCs and status
 * codes, one dependency less at run time, and a transport a loopback protocol fake can speak
 * faithfully. The wrap AAD goes in `additionalAuthenticatedData`, which Cloud KMS binds to the
 * ciphertext (AES-256-GCM associated data inside KMS).
 *
 * Retries: this client's own loop, over the transient codes (RESOURCE_EXHAUSTED, UNAVAILABLE,
 * DEADLINE_EXCEEDED, INTERNAL) and network errors, exponential backoff with full jitter,
 * bounded to `maxAttempts`; each attempt has the SDK's `timeout`, and the SDK's own retries
 * are off so the bound is exact. Errors are stable codes naming the kid, key and operation;
 * Google's error text is not copied (it is never needed, and never logged).
 *
 * Credentials: `settings.accessToken` as a bearer token when set, else Application Default
 * Credentials (GOOGLE_APPLICATION_CREDENTIALS, workload identity, the metadata server, gcloud).
 */
export class GcpKmsClient implements KeyServiceClient {
  readonly service = "gcp-kms";
  readonly keyRef: string;
  readonly #kid: Kid;
  readonly #ref: GcpKmsRef;
  readonly #calls: ServiceCallSettings;
  readonly #settings: GcpSettings | null;
  #sdk: Promise<Sdk> | null = null;
  #client: KeyManagementServiceClient | null = null;

  constructor(kid: Kid, ref: GcpKmsRef, opts: GcpKmsOptions) {
    this.#kid = kid;
    this.#ref = ref;
    this.keyRef = ref.name;
    this.#calls = opts.calls;
    this.#settings = opts.settings;
  }

  async encrypt(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const { client } = await this.#load();
    const [out] = await this.#send("Encrypt", () =>
      client.encrypt(
        { name: this.#ref.name, plaintext: Buffer.from(plaintext), additionalAuthenticatedData: Buffer.from(aad) },
        this.#callOptions(),
      ),
    );
    const ct = out.ciphertext;
    if (ct === null || ct === undefined || ct.length === 0) throw this.#malformed("Encrypt");
    return typeof ct === "string" ? Buffer.from(ct, "base64") : ct;
  }

  async decrypt(ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const { client } = await this.#load();
    const [out] = await this.#send("Decrypt", () =>
      client.decrypt(
        { name: this.#ref.name, ciphertext: Buffer.from(ciphertext), additionalAuthenticatedData: Buffer.from(aad) },
        this.#callOptions(),
      ),
    );
    const pt = out.plaintext;
    if (pt === null || pt === undefined) throw this.#malformed("Decrypt");
    return typeof pt === "string" ? Buffer.from(pt, "base64") : pt;
  }

  close(): void {
    void this.#client?.close().catch(() => undefined);
  }

  #callOptions(): { timeout: number; maxRetries: number } {
    return { timeout: this.#calls.timeoutMs, maxRetries: 0 };
  }

  #load(): Promise<Sdk> {
    this.#sdk ??= (async () => {
      const kms = await import("@google-cloud/kms");
      const opts: Record<string, string | number | boolean | object> = { fallback: true };
      if (this.#ref.endpoint !== null) {
        const url = new URL(this.#ref.endpoint);
        opts["apiEndpoint"] = url.hostname;
        opts["port"] = url.port === "" ? (url.protocol === "http:" ? 80 : 443) : Number(url.port);
        opts["protocol"] = url.protocol.slice(0, -1);
      }
      const token = this.#settings?.accessToken ?? null;
      if (token !== null) {
        const { OAuth2Client } = await import("google-auth-library");
        const auth = new OAuth2Client();
        auth.setCredentials({ access_token: token.revealText() });
        opts["authClient"] = auth;
      }
      const client = new kms.KeyManagementServiceClient(opts);
      this.#client = client;
      return { client };
    })();
    return this.#sdk;
  }

  async #send<T>(op: string, call: () => Promise<T>): Promise<T> {
    let attempt = 0;
    let last: readonly [ErrorCode, string, boolean] = ["KEY_UNAVAILABLE", "not tried", false];
    let status = "none";
    while (attempt < this.#calls.maxAttempts) {
      if (attempt > 0) await backoff(attempt);
      attempt += 1;
      try {
        return await call();
      } catch (e) {
        const err = (e ?? {}) as { code?: unknown; name?: unknown };
        const code = typeof err.code === "number" ? err.code : null;
        status = code === null ? (typeof err.code === "string" ? err.code : "network") : String(code);
        last =
          code === null
            ? ["KEY_UNAVAILABLE", err.name === "TimeoutError" ? "timed out" : "cannot connect", true]
            : (GRPC[code] ?? ["KEY_UNAVAILABLE", `Cloud KMS answered status ${String(code)}`, false]);
        if (!last[2]) break;
      }
    }
    throw new CofferError(
      last[0],
      `Google Cloud KMS ${op} for kid '${this.#kid}' (key ${this.#ref.name}) failed after ${String(attempt)} attempt(s): ${last[1]}`,
      { kid: this.#kid, provider: "gcp-kms", operation: op, grpcStatus: status },
    );
  }

  #malformed(op: string): CofferError {
    return new CofferError("CIPHERTEXT_MALFORMED", `Google Cloud KMS ${op} for kid '${this.#kid}' returned no data`, { kid: this.#kid });
  }
}

/** Full jitter over 100 ms · 2^(attempt-1), capped at 2 s. */
function backoff(attempt: number): Promise<void> {
  const capMs = Math.min(2000, 100 * 2 ** (attempt - 1));
  return new Promise((r) => setTimeout(r, Math.random() * capMs));
}
