import type { KMSClient } from "@aws-sdk/client-kms";
import { encodeBase64 } from "../crypto/index.ts";
import { CofferError, type ErrorCode } from "../errors/index.ts";
import type { Kid } from "../model/index.ts";
import type { KeyServiceClient } from "./remote-kek.ts";
import type { AwsCredentials, AwsKmsRef, ServiceCallSettings } from "./key-service-settings.ts";

type Sdk = { readonly mod: typeof import("@aws-sdk/client-kms"); readonly client: KMSClient };

/**
 * The encryption context Coffer sends with every Encrypt and Decrypt: the wrap AAD (the bytes
 * of `encodeAad`: kind, owner, scope-key id, kid) in standard base64 under one fixed key. KMS
 * binds the context to the ciphertext (it is AES-GCM associated data inside KMS) and records
 * it in CloudTrail; a ciphertext moved to another row fails with InvalidCiphertextException.
 */
export const ENCRYPTION_CONTEXT_KEY = "coffer:aad";

export function encryptionContext(aad: Uint8Array): Record<string, string> {
  return { [ENCRYPTION_CONTEXT_KEY]: encodeBase64(aad) };
}

/** SDK error names → stable codes. Anything else (5xx, network, timeouts) is KEY_UNAVAILABLE. */
const AWS_ERRORS: Readonly<Record<string, readonly [ErrorCode, string]>> = Object.freeze({
  ThrottlingException: ["KEY_THROTTLED", "throttled by AWS KMS"],
  LimitExceededException: ["KEY_THROTTLED", "over an AWS KMS request quota"],
  AccessDeniedException: ["KEY_ACCESS_DENIED", "access denied by the key policy or IAM"],
  UnrecognizedClientException: ["KEY_ACCESS_DENIED", "AWS does not recognise the access key"],
  InvalidSignatureException: ["KEY_ACCESS_DENIED", "the request signature does not match (wrong secret key?)"],
  ExpiredTokenException: ["KEY_ACCESS_DENIED", "the AWS session token expired"],
  CredentialsProviderError: ["KEY_ACCESS_DENIED", "no AWS credentials found"],
  DisabledException: ["KEY_DISABLED", "the KMS key is disabled"],
  KMSInvalidStateException: ["KEY_DISABLED", "the KMS key is not enabled (pending deletion or import?)"],
  NotFoundException: ["KEY_NOT_FOUND", "no such KMS key or alias"],
  InvalidCiphertextException: ["DECRYPT_FAILED", "the ciphertext does not authenticate under this key and context"],
  IncorrectKeyException: ["DECRYPT_FAILED", "the ciphertext was wrapped by another KMS key"],
  InvalidKeyUsageException: ["KEY_INVALID", "the KMS key is not a symmetric ENCRYPT_DECRYPT key"],
});

/**
 * AWS KMS through the official SDK, loaded on first use (so `coffer run` with a local key
 * never loads it). Retries: the SDK's standard strategy (exponential backoff with jitter,
 * throttling included) bounded to `maxAttempts`; each attempt has connection and request
 * timeouts. Errors become stable codes naming the kid, key and operation; the SDK's error
 * object is not attached (it is never logged, and never carries key material).
 */
export class AwsKmsClient implements KeyServiceClient {
  readonly service = "aws-kms";
  readonly keyRef: string;
  readonly #kid: Kid;
  readonly #ref: AwsKmsRef;
  readonly #calls: ServiceCallSettings;
  readonly #credentials: AwsCredentials | null;
  #sdk: Promise<Sdk> | null = null;
  #client: KMSClient | null = null;

  constructor(kid: Kid, ref: AwsKmsRef, opts: { readonly calls: ServiceCallSettings; readonly credentials: AwsCredentials | null }) {
    this.#kid = kid;
    this.#ref = ref;
    this.keyRef = ref.keyId;
    this.#calls = opts.calls;
    this.#credentials = opts.credentials;
  }

  async encrypt(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const { mod, client } = await this.#load();
    const out = await this.#send("Encrypt", () =>
      client.send(new mod.EncryptCommand({ KeyId: this.#ref.keyId, Plaintext: plaintext, EncryptionContext: encryptionContext(aad) })),
    );
    if (out.CiphertextBlob === undefined) throw this.#malformed("Encrypt");
    return out.CiphertextBlob;
  }

  async decrypt(ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const { mod, client } = await this.#load();
    const out = await this.#send("Decrypt", () =>
      client.send(
        new mod.DecryptCommand({
          KeyId: this.#ref.keyId,
          CiphertextBlob: ciphertext,
          EncryptionContext: encryptionContext(aad),
          EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
        }),
      ),
    );
    if (out.Plaintext === undefined) throw this.#malformed("Decrypt");
    return out.Plaintext;
  }

  close(): void {
    this.#client?.destroy();
  }

  #load(): Promise<Sdk> {
    this.#sdk ??= import("@aws-sdk/client-kms").then((mod) => {
      const c = this.#credentials;
      const client = new mod.KMSClient({
        region: this.#ref.region,
        ...(this.#ref.endpoint === null ? {} : { endpoint: this.#ref.endpoint }),
        ...(c === null
          ? {}
          : {
              credentials: {
                accessKeyId: c.accessKeyId,
                secretAccessKey: c.secretAccessKey.revealText(),
                ...(c.sessionToken === null ? {} : { sessionToken: c.sessionToken.revealText() }),
              },
            }),
        maxAttempts: this.#calls.maxAttempts,
        retryMode: "standard",
        // Without throwOnRequestTimeout this SDK only logs a warning when requestTimeout passes.
        requestHandler: { connectionTimeout: this.#calls.timeoutMs, requestTimeout: this.#calls.timeoutMs, throwOnRequestTimeout: true },
      });
      this.#client = client;
      return { mod, client };
    });
    return this.#sdk;
  }

  async #send<T>(op: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw this.#mapError(op, e);
    }
  }

  #mapError(op: string, e: unknown): CofferError {
    const err = (e ?? {}) as { name?: unknown; code?: unknown; $metadata?: { httpStatusCode?: number; attempts?: number } };
    const name = typeof err.name === "string" ? err.name : "Error";
    const sysCode = typeof err.code === "string" ? err.code : null;
    const [code, what] = AWS_ERRORS[name] ?? [
      "KEY_UNAVAILABLE",
      sysCode ?? (name === "TimeoutError" ? "timed out" : "unreachable or failing"),
    ];
    const attempts = err.$metadata?.attempts;
    const tries = attempts === undefined ? "" : ` after ${String(attempts)} attempt(s)`;
    return new CofferError(
      code,
      `AWS KMS ${op} for kid '${this.#kid}' (key ${this.#ref.keyId}, ${this.#ref.region}) failed${tries}: ${what} (${name})`,
      { kid: this.#kid, provider: "aws-kms", operation: op, awsError: name, ...(sysCode === null ? {} : { errno: sysCode }) },
    );
  }

  #malformed(op: string): CofferError {
    return new CofferError("CIPHERTEXT_MALFORMED", `AWS KMS ${op} for kid '${this.#kid}' returned no data`, { kid: this.#kid });
  }
}
