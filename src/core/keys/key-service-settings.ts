import type { Secret } from "../secret/index.ts";

/** How a key service is called: per-attempt timeout and bounded attempts (first try included). */
export type ServiceCallSettings = { readonly timeoutMs: number; readonly maxAttempts: number };

/** Static AWS credentials from Coffer's environment; null lets the SDK's default chain find them. */
export type AwsCredentials = { readonly accessKeyId: string; readonly secretAccessKey: Secret; readonly sessionToken: Secret | null };

/** One AWS KMS key: `keyId` is a key ARN (recommended), key id, alias name or alias ARN. */
export type AwsKmsRef = { readonly keyId: string; readonly region: string; readonly endpoint: string | null };

/**
 * One Vault/OpenBao Transit key: `POST <address>/v1/<mount>/encrypt/<keyName>`; `version`, when
 * set, the key version this kid encrypts with (`key_version`; a kid minted by a rotation).
 */
export type VaultTransitRef = {
  readonly address: string;
  readonly mount: string;
  readonly keyName: string;
  readonly version?: number | null;
};

/** What key-service providers take from the environment rather than from a keyring entry. */
export type KeyServiceDefaults = {
  readonly calls: ServiceCallSettings;
  readonly aws: { readonly region: string | null; readonly endpoint: string | null; readonly credentials: AwsCredentials | null };
  readonly vault: {
    readonly address: string | null;
    readonly token: Secret | null;
    /** A file holding the token (a mounted secret); wins over `token`, must be private (0600). */
    readonly tokenFile: string | null;
    readonly namespace: string | null;
  };
  /** Google Cloud KMS; absent: Application Default Credentials and the default endpoint. */
  readonly gcp?: GcpSettings;
  /** Azure Key Vault; absent: DefaultAzureCredential. */
  readonly azure?: AzureSettings;
};

/**
 * One Google Cloud KMS key: its resource name
 * `projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>`; `endpoint` another API endpoint
 * (`https://host[:port]`, or `http://` for a loopback protocol fake), null for the default.
 */
export type GcpKmsRef = { readonly name: string; readonly endpoint: string | null };

/** Google Cloud settings from the environment. */
export type GcpSettings = {
  /** An OAuth 2.0 access token to use as is (e.g. `gcloud auth print-access-token`); null: Application Default Credentials. */
  readonly accessToken: Secret | null;
  readonly endpoint: string | null;
};

/**
 * One Azure Key Vault key: `https://<vault>.vault.azure.net/keys/<name>[/<version>]` (or a
 * Managed HSM `https://<hsm>.managedhsm.azure.net/keys/…`).
 */
export type AzureKeyRef = { readonly vaultUrl: string; readonly name: string; readonly version: string | null };

/** Azure settings from the environment. */
export type AzureSettings = {
  /** A Microsoft Entra access token for `https://vault.azure.net` to use as is; null: DefaultAzureCredential. */
  readonly accessToken: Secret | null;
  /** The Entra authority host for DefaultAzureCredential (sovereign clouds); null: the SDK's default / AZURE_AUTHORITY_HOST. */
  readonly authorityHost: string | null;
  /** Extra trusted CA certificates (PEM) for the vault's TLS, e.g. a private endpoint's or a test fake's; null: the system's. */
  readonly caCertificates: string | null;
};
