import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CofferError } from "../errors/index.ts";
import { checkEnv, matching, nonEmptyText, type EnvOf, type EnvRules } from "./env-rules.ts";
import { KEYCHAIN_MANIFEST_NAME, type KekSettings, type KeyServiceDefaults, type ProviderKind } from "../keys/index.ts";
import type { Kid } from "../model/index.ts";
import { Secret } from "../secret/index.ts";

/** The `COFFER_*` variables of the key providers and the key cache (besides COFFER_KEK_*). */
export const KEK_ENV = [
  "COFFER_KEYCHAIN_ACCOUNT",
  "COFFER_AWS_KMS_KEY_ID",
  "COFFER_AWS_REGION",
  "COFFER_AWS_KMS_ENDPOINT",
  "COFFER_VAULT_ADDR",
  "COFFER_VAULT_TOKEN",
  "COFFER_VAULT_TOKEN_FILE",
  "COFFER_VAULT_NAMESPACE",
  "COFFER_VAULT_TRANSIT_MOUNT",
  "COFFER_VAULT_TRANSIT_KEY",
  "COFFER_GCP_KMS_KEY",
  "COFFER_GCP_KMS_ENDPOINT",
  "COFFER_GCP_ACCESS_TOKEN",
  "COFFER_AZURE_KEY_ID",
  "COFFER_AZURE_AUTHORITY_HOST",
  "COFFER_AZURE_ACCESS_TOKEN",
  "COFFER_AZURE_CA_FILE",
  "COFFER_KMS_TIMEOUT_MS",
  "COFFER_KMS_MAX_ATTEMPTS",
  "COFFER_KEY_CACHE_MAX",
  "COFFER_KEY_CACHE_TTL",
] as const;

const KEK_ENV_RULES = {
  COFFER_KEYCHAIN_ACCOUNT: matching(/^[^\0\n]{1,512}$/, "must be one line of at most 512 characters"),
  COFFER_AWS_KMS_KEY_ID: nonEmptyText,
  COFFER_AWS_REGION: matching(/^[a-z0-9-]{1,32}$/, "must be an AWS region, e.g. eu-west-1"),
  COFFER_AWS_KMS_ENDPOINT: nonEmptyText,
  COFFER_VAULT_ADDR: nonEmptyText,
  COFFER_VAULT_TOKEN: nonEmptyText,
  COFFER_VAULT_TOKEN_FILE: nonEmptyText,
  COFFER_VAULT_NAMESPACE: nonEmptyText,
  COFFER_VAULT_TRANSIT_MOUNT: nonEmptyText,
  COFFER_VAULT_TRANSIT_KEY: nonEmptyText,
  COFFER_GCP_KMS_KEY: nonEmptyText,
  COFFER_GCP_KMS_ENDPOINT: nonEmptyText,
  COFFER_GCP_ACCESS_TOKEN: nonEmptyText,
  COFFER_AZURE_KEY_ID: nonEmptyText,
  COFFER_AZURE_AUTHORITY_HOST: matching(/^https:\/\/[^\s]{1,500}$/, "must be an https URL"),
  COFFER_AZURE_ACCESS_TOKEN: nonEmptyText,
  COFFER_AZURE_CA_FILE: nonEmptyText,
  COFFER_KMS_TIMEOUT_MS: matching(/^[1-9][0-9]{2,5}$/, "must be a whole number of milliseconds from 100 to 999999"),
  COFFER_KMS_MAX_ATTEMPTS: matching(/^([1-9]|10)$/, "must be a whole number of attempts from 1 to 10"),
  COFFER_KEY_CACHE_MAX: matching(/^(0|[1-9][0-9]{0,6})$/, "must be a whole number of keys from 0 to 9999999"),
  COFFER_KEY_CACHE_TTL: matching(
    /^(0|[1-9][0-9]{0,5}[smh])$/,
    "must be 0 (no caching) or a whole number of seconds, minutes or hours, e.g. 5m",
  ),
} satisfies EnvRules;

export type KekConfigInput = {
  /** Every environment variable (AWS_* and VAULT_* are read as fallbacks). */
  readonly raw: Readonly<Record<string, string | undefined>>;
  readonly home: string;
  readonly kid: Kid;
  /** COFFER_KEK_PROVIDER, or the provider the other variables imply; null for the role's default. */
  readonly provider: ProviderKind | null;
  /** The local CLI defaults to the OS keychain (file as fallback); a server to the file. */
  readonly role: "cli" | "server";
};

export type KekConfig = {
  readonly kek: KekSettings;
  readonly scopeKeyCacheTtlMs: number;
  readonly maxCachedKeys: number;
};

const TTL_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

function nonEmpty(v: string | undefined): string | null {
  return v === undefined || v === "" ? null : v;
}

/** Key-service settings from `COFFER_*`, falling back to the services' own variables. */
function serviceDefaults(env: EnvOf<typeof KEK_ENV_RULES>, raw: KekConfigInput["raw"]): KeyServiceDefaults {
  const keyId = nonEmpty(raw["AWS_ACCESS_KEY_ID"]);
  const secret = nonEmpty(raw["AWS_SECRET_ACCESS_KEY"]);
  const session = nonEmpty(raw["AWS_SESSION_TOKEN"]);
  const token = env.COFFER_VAULT_TOKEN ?? nonEmpty(raw["VAULT_TOKEN"]);
  return {
    calls: { timeoutMs: Number(env.COFFER_KMS_TIMEOUT_MS ?? "5000"), maxAttempts: Number(env.COFFER_KMS_MAX_ATTEMPTS ?? "3") },
    aws: {
      region: env.COFFER_AWS_REGION ?? nonEmpty(raw["AWS_REGION"]) ?? nonEmpty(raw["AWS_DEFAULT_REGION"]),
      endpoint: env.COFFER_AWS_KMS_ENDPOINT ?? nonEmpty(raw["AWS_ENDPOINT_URL_KMS"]),
      credentials:
        keyId !== null && secret !== null
          ? {
              accessKeyId: keyId,
              secretAccessKey: Secret.fromString(secret),
              sessionToken: session === null ? null : Secret.fromString(session),
            }
          : null,
    },
    vault: {
      address: env.COFFER_VAULT_ADDR ?? nonEmpty(raw["VAULT_ADDR"]),
      token: token === null ? null : Secret.fromString(token),
      tokenFile: env.COFFER_VAULT_TOKEN_FILE === undefined ? null : resolve(env.COFFER_VAULT_TOKEN_FILE),
      namespace: env.COFFER_VAULT_NAMESPACE ?? nonEmpty(raw["VAULT_NAMESPACE"]),
    },
    gcp: {
      accessToken: env.COFFER_GCP_ACCESS_TOKEN === undefined ? null : Secret.fromString(env.COFFER_GCP_ACCESS_TOKEN),
      endpoint: env.COFFER_GCP_KMS_ENDPOINT ?? null,
    },
    azure: {
      accessToken: env.COFFER_AZURE_ACCESS_TOKEN === undefined ? null : Secret.fromString(env.COFFER_AZURE_ACCESS_TOKEN),
      authorityHost: env.COFFER_AZURE_AUTHORITY_HOST ?? null,
      caCertificates: env.COFFER_AZURE_CA_FILE === undefined ? null : readCaFile(env.COFFER_AZURE_CA_FILE),
    },
  };
}

/** A PEM bundle of extra trusted CA certificates. */
function readCaFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(resolve(path), "utf8");
  } catch (e) {
    throw new CofferError("CONFIG_INVALID", `COFFER_AZURE_CA_FILE: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, {
      fields: ["COFFER_AZURE_CA_FILE"],
    });
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new CofferError("CONFIG_INVALID", `COFFER_AZURE_CA_FILE: ${path} must hold PEM certificates`, {
      fields: ["COFFER_AZURE_CA_FILE"],
    });
  }
  return text;
}

function missing(variable: string, why: string): CofferError {
  return new CofferError("CONFIG_INVALID", `${why} needs ${variable}`, { fields: [variable] });
}

/**
 * The key-service and keychain part of the configuration. Which provider, when none is named:
 * the one the other variables imply (`COFFER_AWS_KMS_KEY_ID` → aws-kms,
 * `COFFER_VAULT_TRANSIT_KEY` → vault-transit, `COFFER_GCP_KMS_KEY` → gcp-kms, `COFFER_AZURE_KEY_ID` →
 * azure-key-vault), else the role's default.
 * @throws CofferError CONFIG_INVALID listing the bad variables.
 */
export function kekConfig(input: KekConfigInput, base: (provider: "file" | "env" | "keyring") => KekSettings): KekConfig {
  const parsed = checkEnv(KEK_ENV_RULES, input.raw);
  if (!parsed.ok) {
    const text = parsed.issues.map((i) => `${i.field}: ${i.message}`).join("; ");
    throw new CofferError("CONFIG_INVALID", `invalid configuration: ${text}`, { fields: parsed.issues.map((i) => i.field) });
  }
  const env = parsed.env;
  const ttl = env.COFFER_KEY_CACHE_TTL ?? "5m";
  const cache = {
    scopeKeyCacheTtlMs: ttl === "0" ? 0 : Number(ttl.slice(0, -1)) * TTL_MS[ttl.slice(-1) as keyof typeof TTL_MS],
    maxCachedKeys: Number(env.COFFER_KEY_CACHE_MAX ?? "10000"),
  };
  const implied =
    env.COFFER_AWS_KMS_KEY_ID !== undefined
      ? "aws-kms"
      : env.COFFER_VAULT_TRANSIT_KEY !== undefined
        ? "vault-transit"
        : env.COFFER_GCP_KMS_KEY !== undefined
          ? "gcp-kms"
          : env.COFFER_AZURE_KEY_ID !== undefined
            ? "azure-key-vault"
            : null;
  const provider = input.provider ?? implied ?? (input.role === "cli" ? "keychain" : "file");
  const services = serviceDefaults(env, input.raw);
  switch (provider) {
    case "file":
    case "env":
      return { kek: base(provider), ...cache };
    case "keyring":
      return { kek: { ...(base(provider) as { provider: "keyring"; path: string }), services }, ...cache };
    case "keychain": {
      const onLinuxWithoutBus = process.platform === "linux" && nonEmpty(input.raw["DBUS_SESSION_BUS_ADDRESS"]) === null;
      const kek: KekSettings = {
        provider,
        kid: input.kid,
        service: "coffer",
        account: env.COFFER_KEYCHAIN_ACCOUNT ?? `${input.kid}@${input.home}`,
        fallbackPath: input.provider === "keychain" ? null : join(input.home, "secrets", "master-key"),
        manifestPath: join(input.home, "secrets", KEYCHAIN_MANIFEST_NAME),
        home: input.home,
        unreachable: onLinuxWithoutBus ? "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set" : null,
        timeoutMs: 10_000,
      };
      return { kek, ...cache };
    }
    case "aws-kms":
      if (env.COFFER_AWS_KMS_KEY_ID === undefined) throw missing("COFFER_AWS_KMS_KEY_ID", "COFFER_KEK_PROVIDER=aws-kms");
      return { kek: { provider, kid: input.kid, keyId: env.COFFER_AWS_KMS_KEY_ID, services }, ...cache };
    case "vault-transit":
      if (env.COFFER_VAULT_TRANSIT_KEY === undefined) throw missing("COFFER_VAULT_TRANSIT_KEY", "COFFER_KEK_PROVIDER=vault-transit");
      return {
        kek: {
          provider,
          kid: input.kid,
          keyName: env.COFFER_VAULT_TRANSIT_KEY,
          mount: env.COFFER_VAULT_TRANSIT_MOUNT ?? "transit",
          services,
        },
        ...cache,
      };
    case "gcp-kms":
      if (env.COFFER_GCP_KMS_KEY === undefined) throw missing("COFFER_GCP_KMS_KEY", "COFFER_KEK_PROVIDER=gcp-kms");
      return { kek: { provider, kid: input.kid, keyName: env.COFFER_GCP_KMS_KEY, services }, ...cache };
    case "azure-key-vault":
      if (env.COFFER_AZURE_KEY_ID === undefined) throw missing("COFFER_AZURE_KEY_ID", "COFFER_KEK_PROVIDER=azure-key-vault");
      return { kek: { provider, kid: input.kid, keyId: env.COFFER_AZURE_KEY_ID, services }, ...cache };
  }
}
