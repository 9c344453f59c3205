import type { Secret } from "../secret/index.ts";

/** How a key service is called: per-attempt timeout and bounded attempts (first try included). */
export type ServiceCallSettings = { readonly timeoutMs: number; readonly maxAttempts: number };

/** Static AWS credentials from Coffer's environment; null lets the SDK's default chain find them. */
export type AwsCredentials = { readonly accessKeyId: string; readonly secretAccessKey: Secret; readonly sessionToken: Secret | null };

/** One AWS KMS key: `keyId` is a key ARN (recommended), key id, alias name or alias ARN. */
export type AwsKmsRef = { readonly keyId: string; readonly region: string; readonly endpoint: string | null };

/** One Vault/OpenBao Transit key: `POST <address>/v1/<mount>/encrypt/<keyName>`. */
export type VaultTransitRef = { readonly address: string; readonly mount: string; readonly keyName: string };

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
};
