import { dirname } from "node:path";
import { CofferError } from "../errors/index.ts";
import { parseKeyBase64 } from "../crypto/index.ts";
import { Kid, KID_RULE, lazySchema } from "../model/index.ts";
import type { Secret } from "../secret/index.ts";
import type { KekProvider } from "./kek-provider.ts";
import { assertPrivateKeyDir, fileExists, readKeyFile, readPrivateText } from "./key-file.ts";
import { FileKeyStorage, KeyringFileStorage, manifestPathFor } from "./key-storage.ts";
import type { KeyServiceDefaults } from "./key-service-settings.ts";
import { KeychainStorage, openKeychain, type KeychainSettings } from "./keychain.ts";
import { Keyring } from "./keyring.ts";
import { cloudRefusal, ENV_REFUSAL, TRANSIT_REFUSAL } from "./mint-refusals.ts";
import { LocalKek } from "./local-kek.ts";
import { awsKmsKek, azureKeyVaultKek, gcpKmsKek, vaultTransitKek } from "./service-keks.ts";

/** Where the KEK comes from; built by `loadConfig`. */
export type KekSettings =
  | { readonly provider: "file"; readonly path: string; readonly kid: Kid }
  | { readonly provider: "env"; readonly base64: Secret | null; readonly file: string | null; readonly kid: Kid }
  | { readonly provider: "keyring"; readonly path: string; readonly services?: KeyServiceDefaults }
  | KeychainSettings
  | { readonly provider: "aws-kms"; readonly kid: Kid; readonly keyId: string; readonly services: KeyServiceDefaults }
  | {
      readonly provider: "vault-transit";
      readonly kid: Kid;
      readonly keyName: string;
      readonly mount: string;
      readonly services: KeyServiceDefaults;
    }
  | { readonly provider: "gcp-kms"; readonly kid: Kid; readonly keyName: string; readonly services: KeyServiceDefaults }
  | { readonly provider: "azure-key-vault"; readonly kid: Kid; readonly keyId: string; readonly services: KeyServiceDefaults };

/** Settings {@link loadKeyring} can load without I/O beyond files: all but the OS keychain. */
export type LocalKekSettings = Exclude<KekSettings, KeychainSettings>;

/** Options for {@link loadKeyring}. */
export type LoadKeyringOptions = {
  /** May the file provider create a missing master key? Only when nothing was ever wrapped. */
  readonly allowCreate: boolean;
};

/** Options for {@link openKeyring}: what the database recorded, and where to say a fallback. */
export type OpenKeyringOptions = LoadKeyringOptions & {
  /** The kids (and their providers) the database has recorded; empty for a new database. */
  readonly recorded: readonly { readonly kid: string; readonly provider: string }[];
  /** Told once when the keychain is not reachable and the file provider is used instead. */
  readonly warn?: (message: string) => void;
};

/**
 * True when loading may have to create a key or choose between providers, so the database
 * (has it recorded a kid?) must be consulted first: a missing key file, or the OS keychain.
 */
export function kekNeedsCreation(settings: KekSettings): boolean {
  return (
    settings.provider === "keychain" ||
    (settings.provider === "file" && !fileExists(settings.path) && !fileExists(manifestPathFor(settings.path)))
  );
}

/**
 * Opens the keyring for any provider, the OS keychain included (which may fall back to the
 * key file, see `keychain.ts`).
 * @throws CofferError KEY_NOT_FOUND, KEY_INVALID or KEY_UNAVAILABLE with what to do.
 */
export async function openKeyring(settings: KekSettings, opts: OpenKeyringOptions): Promise<Keyring> {
  if (settings.provider !== "keychain") return loadKeyring(settings, opts);
  const keyFile =
    settings.fallbackPath !== null && (fileExists(settings.fallbackPath) || fileExists(manifestPathFor(settings.fallbackPath)));
  if (!keyFile && KeychainStorage.recorded(settings)) {
    const { storage, providers } = await KeychainStorage.load(settings);
    return new Keyring(storage.active, providers, { storage, refusal: null });
  }
  const opened = await openKeychain(settings, opts);
  if (opened.kind === "keychain")
    return new Keyring(settings.kid, [new LocalKek("keychain", settings.kid, opened.key)], {
      storage: KeychainStorage.single(settings),
      refusal: null,
    });
  return loadKeyring({ provider: "file", path: opened.path, kid: settings.kid }, opts);
}

/**
 * Loads the keyring, validating every key (exactly 32 bytes, canonical base64, private file).
 * Key-service KEKs are built here but contacted only on first use.
 * @throws CofferError KEY_NOT_FOUND, KEY_INVALID or KEY_UNAVAILABLE with what to do.
 */
export function loadKeyring(settings: LocalKekSettings, opts: LoadKeyringOptions): Keyring {
  switch (settings.provider) {
    case "file": {
      assertPrivateKeyDir(dirname(settings.path));
      const { storage, providers } = FileKeyStorage.open(settings.path, settings.kid, opts.allowCreate);
      return new Keyring(storage.active, providers, { storage, refusal: null });
    }
    case "env": {
      const key =
        settings.file !== null
          ? readKeyFile(settings.file, "COFFER_KEK_BASE64_FILE")
          : settings.base64 !== null
            ? parseKeyBase64(settings.base64.revealText(), "COFFER_KEK_BASE64")
            : null;
      if (key === null) {
        throw new CofferError(
          "KEY_NOT_FOUND",
          "the env key provider needs COFFER_KEK_BASE64 or COFFER_KEK_BASE64_FILE; generate one with: openssl rand -base64 32",
        );
      }
      return new Keyring(settings.kid, [new LocalKek("env", settings.kid, key)], { storage: null, refusal: ENV_REFUSAL });
    }
    case "keyring":
      return loadKeyringFile(settings.path, settings.services ?? null);
    case "aws-kms":
      return new Keyring(settings.kid, [awsKmsKek(settings.kid, { keyId: settings.keyId }, settings.services, "COFFER_AWS_KMS_KEY_ID")], {
        storage: null,
        refusal: cloudRefusal("AWS KMS"),
      });
    case "vault-transit":
      return new Keyring(
        settings.kid,
        [vaultTransitKek(settings.kid, { key: settings.keyName, mount: settings.mount }, settings.services, "COFFER_VAULT_TRANSIT_KEY")],
        { storage: null, refusal: TRANSIT_REFUSAL },
      );
    case "gcp-kms":
      return new Keyring(settings.kid, [gcpKmsKek(settings.kid, { name: settings.keyName }, settings.services, "COFFER_GCP_KMS_KEY")], {
        storage: null,
        refusal: cloudRefusal("Google Cloud KMS"),
      });
    case "azure-key-vault":
      return new Keyring(
        settings.kid,
        [azureKeyVaultKek(settings.kid, { keyId: settings.keyId }, settings.services, "COFFER_AZURE_KEY_ID")],
        {
          storage: null,
          refusal: cloudRefusal("Azure Key Vault"),
        },
      );
  }
}

const AwsEntry = lazySchema((z) =>
  z.strictObject({
    provider: z.literal("aws-kms"),
    keyId: z.string(),
    region: z.optional(z.string()),
    endpoint: z.optional(z.string()),
  }),
);
const VaultEntry = lazySchema((z) =>
  z.strictObject({
    provider: z.literal("vault-transit"),
    key: z.string(),
    mount: z.optional(z.string()),
    address: z.optional(z.string()),
    version: z.optional(z.number()),
  }),
);
const GcpEntry = lazySchema((z) => z.strictObject({ provider: z.literal("gcp-kms"), name: z.string(), endpoint: z.optional(z.string()) }));
const AzureEntry = lazySchema((z) => z.strictObject({ provider: z.literal("azure-key-vault"), keyId: z.string() }));
const KeyringFile = lazySchema((z) =>
  z.strictObject({
    active: z.string(),
    pending: z.optional(z.string()),
    keys: z.record(z.string(), z.union([z.string(), AwsEntry, VaultEntry, GcpEntry, AzureEntry])),
  }),
);
const SHAPE = `{ "active": "<kid>", "keys": { "<kid>": "<base64>" | { "provider": "aws-kms", "keyId": … } | { "provider": "vault-transit", "key": … } | { "provider": "gcp-kms", "name": … } | { "provider": "azure-key-vault", "keyId": … } } }`;

function loadKeyringFile(path: string, services: KeyServiceDefaults | null): Keyring {
  const text = readPrivateText(path, "keyring file");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CofferError("KEY_INVALID", `keyring file ${path} is not valid JSON; expected ${SHAPE}`, { path });
  }
  const parsed = KeyringFile.safeParse(json);
  if (!parsed.success) throw new CofferError("KEY_INVALID", `keyring file ${path} must be ${SHAPE}`, { path });
  const providers = Object.entries(parsed.data.keys).map(([kid, entry]): KekProvider => {
    const k = Kid.safeParse(kid);
    if (!k.success) throw new CofferError("KEY_INVALID", `keyring file ${path}: kid '${kid.slice(0, 64)}' ${KID_RULE}`, { path });
    const where = `keyring file ${path} key '${kid}'`;
    if (typeof entry === "string") return new LocalKek("keyring", k.data, parseKeyBase64(entry, where));
    if (services === null) throw new CofferError("KEY_INVALID", `${where}: a key-service entry is not allowed here`, { path });
    switch (entry.provider) {
      case "aws-kms":
        return awsKmsKek(k.data, entry, services, where);
      case "vault-transit":
        return vaultTransitKek(k.data, entry, services, where);
      case "gcp-kms":
        return gcpKmsKek(k.data, entry, services, where);
      case "azure-key-vault":
        return azureKeyVaultKek(k.data, entry, services, where);
    }
  });
  const active = Kid.safeParse(parsed.data.active);
  if (!active.success || !Object.hasOwn(parsed.data.keys, parsed.data.active)) {
    throw new CofferError(
      "KEY_INVALID",
      `keyring file ${path}: "active" must name one of its keys (${Object.keys(parsed.data.keys).join(", ")})`,
      { path },
    );
  }
  const pending = parsed.data.pending === undefined ? null : Kid.safeParse(parsed.data.pending);
  if (pending !== null && (!pending.success || !Object.hasOwn(parsed.data.keys, parsed.data.pending ?? ""))) {
    throw new CofferError("KEY_INVALID", `keyring file ${path}: "pending" must name one of its keys`, { path });
  }
  const minting = {
    storage: new KeyringFileStorage(path, Object.keys(parsed.data.keys), pending?.data ?? null, services),
    refusal: null,
  };
  return new Keyring(active.data, providers, minting);
}
