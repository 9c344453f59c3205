import { CofferError } from "../errors/index.ts";
import type { Kid } from "../model/index.ts";
import { Secret } from "../secret/index.ts";
import { AwsKmsClient } from "./aws-kms-client.ts";
import { AzureKeyVaultClient, parseAzureKeyId } from "./azure-key-vault-client.ts";
import { GCP_KMS_KEY_NAME, GcpKmsClient } from "./gcp-kms-client.ts";
import { readPrivateText } from "./key-file.ts";
import type { KeyServiceDefaults } from "./key-service-settings.ts";
import { RemoteKek } from "./remote-kek.ts";
import { VaultTransitClient } from "./vault-transit-client.ts";

const KEY_ID = /^[A-Za-z0-9:/_+=,.@-]{1,2048}$/;
const TRANSIT_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const TRANSIT_MOUNT = /^[A-Za-z0-9_.-]{1,128}(\/[A-Za-z0-9_.-]{1,128}){0,7}$/;

function invalid(where: string, what: string, kid: Kid): CofferError {
  return new CofferError("KEY_INVALID", `${where}: ${what}`, { kid });
}

function httpUrl(text: string, where: string, kid: Kid): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(where, "must be an http(s) URL", kid);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw invalid(where, "must be an http(s) URL", kid);
  if (url.username !== "" || url.password !== "") throw invalid(where, "must not carry credentials", kid);
  return text.replace(/\/+$/, "");
}

/**
 * An AWS KMS KEK. Nothing is contacted here: the SDK is loaded and called on first use (the
 * boot self-test of the active kid is that first use).
 * @throws CofferError KEY_INVALID when the key id, region or endpoint is unusable.
 */
export function awsKmsKek(
  kid: Kid,
  entry: { readonly keyId: string; readonly region?: string | undefined; readonly endpoint?: string | undefined },
  defaults: KeyServiceDefaults,
  where: string,
): RemoteKek {
  if (!KEY_ID.test(entry.keyId)) throw invalid(where, "keyId must be a KMS key ARN, key id or alias", kid);
  const arnRegion = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):/.exec(entry.keyId)?.[1];
  const region = entry.region ?? arnRegion ?? defaults.aws.region;
  if (region === null || !/^[a-z0-9-]{1,32}$/.test(region))
    throw invalid(where, "needs an AWS region (a key ARN, COFFER_AWS_REGION or AWS_REGION)", kid);
  const endpointText = entry.endpoint ?? defaults.aws.endpoint;
  const endpoint = endpointText === null ? null : httpUrl(endpointText, `${where} endpoint`, kid);
  const client = new AwsKmsClient(
    kid,
    { keyId: entry.keyId, region, endpoint },
    { calls: defaults.calls, credentials: defaults.aws.credentials },
  );
  return new RemoteKek(kid, client);
}

/**
 * A Vault/OpenBao Transit KEK; the token comes from the environment, never a keyring file.
 * @throws CofferError KEY_INVALID when the address, mount or key name is unusable, KEY_NOT_FOUND
 * when no token is configured.
 */
export function vaultTransitClient(
  kid: Kid,
  entry: {
    readonly key: string;
    readonly mount?: string | undefined;
    readonly address?: string | undefined;
    readonly version?: number | undefined;
  },
  defaults: KeyServiceDefaults,
  where: string,
): VaultTransitClient {
  const mount = entry.mount ?? "transit";
  if (!TRANSIT_NAME.test(entry.key)) throw invalid(where, "the Transit key name must be letters, digits, '.', '_' or '-'", kid);
  if (!TRANSIT_MOUNT.test(mount)) throw invalid(where, "the Transit mount must be a path of letters, digits, '.', '_' or '-'", kid);
  const addressText = entry.address ?? defaults.vault.address;
  if (addressText === null) throw invalid(where, "needs the Vault address (COFFER_VAULT_ADDR or VAULT_ADDR)", kid);
  const address = httpUrl(addressText, `${where} address`, kid);
  const fileText = defaults.vault.tokenFile === null ? null : readPrivateText(defaults.vault.tokenFile, "COFFER_VAULT_TOKEN_FILE").trim();
  const token = fileText !== null ? Secret.fromString(fileText) : defaults.vault.token;
  if (token === null || fileText === "") {
    throw new CofferError("KEY_NOT_FOUND", `${where}: needs a Vault token (COFFER_VAULT_TOKEN_FILE, COFFER_VAULT_TOKEN or VAULT_TOKEN)`, {
      kid,
    });
  }
  const version = entry.version ?? null;
  if (version !== null && (!Number.isSafeInteger(version) || version < 1))
    throw invalid(where, "the Transit key version must be a whole number from 1", kid);
  return new VaultTransitClient(
    kid,
    { address, mount, keyName: entry.key, version },
    { token, namespace: defaults.vault.namespace, calls: defaults.calls },
  );
}

/**
 * A Vault/OpenBao Transit KEK (see {@link vaultTransitClient}).
 * @throws CofferError KEY_INVALID, KEY_NOT_FOUND.
 */
export function vaultTransitKek(
  kid: Kid,
  entry: Parameters<typeof vaultTransitClient>[1],
  defaults: KeyServiceDefaults,
  where: string,
): RemoteKek {
  return new RemoteKek(kid, vaultTransitClient(kid, entry, defaults, where));
}

/**
 * A Google Cloud KMS KEK (a symmetric ENCRYPT_DECRYPT CryptoKey). Nothing is contacted here.
 * @throws CofferError KEY_INVALID when the resource name or endpoint is unusable.
 */
export function gcpKmsKek(
  kid: Kid,
  entry: { readonly name: string; readonly endpoint?: string | undefined },
  defaults: KeyServiceDefaults,
  where: string,
): RemoteKek {
  if (!GCP_KMS_KEY_NAME.test(entry.name)) {
    throw invalid(
      where,
      "must be a CryptoKey resource name: projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key>",
      kid,
    );
  }
  const endpointText = entry.endpoint ?? defaults.gcp?.endpoint ?? null;
  const endpoint = endpointText === null ? null : httpUrl(endpointText, `${where} endpoint`, kid);
  const client = new GcpKmsClient(kid, { name: entry.name, endpoint }, { calls: defaults.calls, settings: defaults.gcp ?? null });
  return new RemoteKek(kid, client);
}

/**
 * An Azure Key Vault KEK (an RSA key, wrapKey/unwrapKey). Nothing is contacted here.
 * @throws CofferError KEY_INVALID when the key id is not a Key Vault key URL.
 */
export function azureKeyVaultKek(kid: Kid, entry: { readonly keyId: string }, defaults: KeyServiceDefaults, where: string): RemoteKek {
  const ref = parseAzureKeyId(entry.keyId);
  if (ref === null) throw invalid(where, "must be a Key Vault key URL: https://<vault>.vault.azure.net/keys/<name>[/<version>]", kid);
  return new RemoteKek(kid, new AzureKeyVaultClient(kid, ref, { calls: defaults.calls, settings: defaults.azure ?? null }));
}
