import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { AesKey, encodeBase64, parseKeyBase64 } from "../crypto/index.ts";
import { CofferError } from "../errors/index.ts";
import { hasTextFields, isKid, KID_RULE, lazySchema, type Kid } from "../model/index.ts";
import { crashPoint } from "./crash-point.ts";
import { replaceFileAtomically } from "./durable-file.ts";
import type { KekProvider } from "./kek-provider.ts";
import { fileExists, readPrivateText } from "./key-file.ts";
import { manifestPathFor, type KeyStorage } from "./key-storage.ts";
import { LocalKek } from "./local-kek.ts";

/**
 * The OS keychain provider: the master key (32 random bytes, base64) is one keychain entry,
 * service `coffer`, account `<kid>@<absolute data directory>` (or `COFFER_KEYCHAIN_ACCOUNT`),
 * so two data directories never share or overwrite each other's key. macOS Keychain, Windows
 * Credential Manager, and on Linux the Secret Service over D-Bus (gnome-keyring, KWallet,
 * KeePassXC), through `@napi-rs/keyring`, loaded only when this provider is used.
 */
export type KeychainSettings = {
  readonly provider: "keychain";
  readonly kid: Kid;
  readonly service: string;
  readonly account: string;
  /** The key file used instead when no keychain is reachable; null when the keychain was chosen explicitly. */
  readonly fallbackPath: string | null;
  /** Where the kids of a keychain that rotated are recorded: `<data dir>/secrets/keychain.json`. */
  readonly manifestPath: string;
  /** The data directory: minted kids get the account `<kid>@<home>`. */
  readonly home: string;
  /** Why no keychain can be reachable, known without trying (no D-Bus session bus); null to try. */
  readonly unreachable: string | null;
  readonly timeoutMs: number;
};

export type OpenedKeychain = { readonly kind: "keychain"; readonly key: AesKey } | { readonly kind: "file"; readonly path: string };

type Entry = {
  getPassword(signal?: AbortSignal | null): Promise<string | null>;
  setPassword(password: string, signal?: AbortSignal | null): Promise<void>;
};

/**
 * On Linux the entry is pinned to the Secret Service: left to choose, the binding falls back
 * to the kernel keyutils keyring, which forgets the key at logout or reboot.
 */
async function openEntry(s: KeychainSettings): Promise<Entry> {
  if (s.unreachable !== null) throw new Error(s.unreachable);
  const mod = await import("@napi-rs/keyring");
  return new mod.AsyncEntry(s.service, s.account, process.platform === "linux" ? { linux: { store: "secret-service" } } : null);
}

/** A short reason for a keychain failure: its message's first line, never more. */
function reasonOf(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return (text.split("\n")[0] ?? "").slice(0, 200);
}

/**
 * Opens the keychain's master key. Compatibility rules, in order:
 * 1. A data directory that already has `secrets/master-key` keeps using it (no migration).
 * 2. No keychain reachable: with a fallback, the file provider is used and `warn` is told
 *    once; but never when the database recorded this kid as a keychain key (KEY_UNAVAILABLE),
 *    since a new file key could not decrypt anything.
 * 3. The entry is missing: created only when the database has recorded no kid (as the file
 *    provider does); otherwise KEY_NOT_FOUND, restore it from a backup.
 * @throws CofferError KEY_UNAVAILABLE, KEY_NOT_FOUND, KEY_INVALID.
 */
export async function openKeychain(
  s: KeychainSettings,
  opts: {
    readonly allowCreate: boolean;
    readonly recorded: readonly { readonly kid: string; readonly provider: string }[];
    readonly warn?: (message: string) => void;
  },
): Promise<OpenedKeychain> {
  if (s.fallbackPath !== null && (fileExists(s.fallbackPath) || fileExists(manifestPathFor(s.fallbackPath))))
    return { kind: "file", path: s.fallbackPath };
  const recorded = opts.recorded.find((r) => r.kid === s.kid)?.provider ?? null;
  if (s.fallbackPath !== null && recorded === "file") return { kind: "file", path: s.fallbackPath };
  const where = `keychain entry service '${s.service}' account '${s.account}'`;
  let entry: Entry;
  let text: string | null;
  try {
    entry = await openEntry(s);
    text = await entry.getPassword(AbortSignal.timeout(s.timeoutMs));
  } catch (e) {
    const why = reasonOf(e);
    if (s.fallbackPath === null || recorded === "keychain") {
      throw new CofferError(
        "KEY_UNAVAILABLE",
        `the OS keychain is not reachable (${why}), and ${recorded === "keychain" ? `this database's key for kid '${s.kid}' is in it` : "COFFER_KEK_PROVIDER=keychain asks for it"}; unlock or start the keychain (on Linux a Secret Service on the D-Bus session bus)`,
        { kid: s.kid },
      );
    }
    opts.warn?.(
      `no OS keychain is reachable (${why}); the master key is kept in the file ${s.fallbackPath} instead (set COFFER_KEK_PROVIDER=file to choose it and silence this)`,
    );
    return { kind: "file", path: s.fallbackPath };
  }
  if (text !== null) return { kind: "keychain", key: parseKeyBase64(text, where) };
  if (!opts.allowCreate) {
    throw new CofferError(
      "KEY_NOT_FOUND",
      `${where} is missing, but this database holds data wrapped by kid '${s.kid}'; restore the key into the keychain from your backup or shares (a new key could not decrypt anything); if the data directory moved, set COFFER_KEYCHAIN_ACCOUNT to the old account`,
      { kid: s.kid },
    );
  }
  return { kind: "keychain", key: await createEntry(entry, s, where) };
}

/**
 * Stores a new random key and reads it back: when two processes create at once, the one
 * written last is what both read back (a loser that already used its own key is caught by the
 * fingerprint the database records, KEY_MISMATCH).
 */
async function createEntry(entry: Entry, s: KeychainSettings, where: string): Promise<AesKey> {
  const bytes = AesKey.generate().exportBytes();
  try {
    await entry.setPassword(encodeBase64(bytes), AbortSignal.timeout(s.timeoutMs));
  } catch (e) {
    throw new CofferError("KEY_UNAVAILABLE", `cannot write the ${where} (${reasonOf(e)})`, { kid: s.kid });
  } finally {
    bytes.fill(0);
  }
  const back = await entry.getPassword(AbortSignal.timeout(s.timeoutMs));
  if (back === null) throw new CofferError("KEY_UNAVAILABLE", `the ${where} vanished right after it was written`, { kid: s.kid });
  return parseKeyBase64(back, where);
}

/** The record of a keychain's kids: `secrets/keychain.json` beside where a key file would be (no key material in it). */
export const KEYCHAIN_MANIFEST_NAME = "keychain.json";
const KeychainManifest = lazySchema((z) =>
  z.strictObject({
    active: z.string(),
    pending: z.nullable(z.string()),
    /** A kid whose entry is being written: recorded before the entry, so no stored key is ever unrecorded. */
    minting: z.nullable(z.string()),
    keys: z.record(z.string(), z.string()),
  }),
);
type KcManifest = { active: Kid; pending: Kid | null; minting: Kid | null; keys: Record<string, string> };
const KC_MANIFEST_FIELDS = { active: "text", pending: "text-or-null", minting: "text-or-null", keys: "text-record" } as const;
type KcManifestJson = { active: string; pending: string | null; minting: string | null; keys: Record<string, string> };

function parseKcManifest(path: string): KcManifest {
  const bad = (why: string): CofferError =>
    new CofferError("KEY_INVALID", `keychain manifest ${path} ${why}; restore it from your backup of the secrets directory`, { path });
  let json: unknown;
  try {
    json = JSON.parse(readPrivateText(path, "keychain manifest"));
  } catch (e) {
    if (e instanceof CofferError) throw e;
    throw bad("is not valid JSON");
  }
  // Checked without zod when it has the expected shape (it is read on every start); the schema decides the rest.
  const parsed = hasTextFields(json, KC_MANIFEST_FIELDS)
    ? { success: true as const, data: json as KcManifestJson }
    : KeychainManifest.safeParse(json);
  if (!parsed.success) throw bad(`must be { "active", "pending", "minting", "keys": { "<kid>": "<keychain account>" } }`);
  const m = parsed.data;
  for (const kid of [
    ...Object.keys(m.keys),
    m.active,
    ...(m.pending === null ? [] : [m.pending]),
    ...(m.minting === null ? [] : [m.minting]),
  ]) {
    if (!isKid(kid)) throw bad(`has kid '${kid.slice(0, 64)}' that ${KID_RULE}`);
  }
  if (!Object.hasOwn(m.keys, m.active)) throw bad(`has "active": "${m.active}", which is not one of its keys`);
  if (m.pending !== null && !Object.hasOwn(m.keys, m.pending)) throw bad(`has "pending": "${m.pending}", which is not one of its keys`);
  return { active: m.active as Kid, pending: m.pending as Kid | null, minting: m.minting as Kid | null, keys: { ...m.keys } };
}

async function readEntry(s: KeychainSettings, account: string, kid: string): Promise<AesKey> {
  const where = `keychain entry service '${s.service}' account '${account}'`;
  let text: string | null;
  try {
    text = await (await openEntry({ ...s, account })).getPassword(AbortSignal.timeout(s.timeoutMs));
  } catch (e) {
    throw new CofferError(
      "KEY_UNAVAILABLE",
      `the OS keychain is not reachable (${reasonOf(e)}), and this data directory's keys are in it (${s.manifestPath}); unlock or start the keychain`,
      { kid },
    );
  }
  if (text === null) {
    throw new CofferError(
      "KEY_NOT_FOUND",
      `${where} (kid '${kid}', recorded in ${s.manifestPath}) is missing; restore the key into the keychain from your backup or shares`,
      { kid },
    );
  }
  return parseKeyBase64(text, where);
}

/**
 * The OS keychain as key storage: a new key is a new keychain entry (service `coffer`, account
 * `<kid>@<data directory>`); `secrets/keychain.json` (0600, in the 0700 secrets directory)
 * records the kids, their accounts, the active one and a `pending` one, written atomically.
 * Minting first records the kid as `minting`, then writes the entry, then records it as
 * `pending`: a kill at any point leaves no entry that nothing records (the next start adopts
 * an entry written for a `minting` kid as pending, or forgets the intent when none was written).
 */
export class KeychainStorage implements KeyStorage {
  readonly what = "OS keychain";
  readonly #s: KeychainSettings;
  #m: KcManifest;

  private constructor(s: KeychainSettings, m: KcManifest) {
    this.#s = s;
    this.#m = m;
  }

  /** True when this data directory has recorded keychain kids (a rotation happened). */
  static recorded(s: KeychainSettings): boolean {
    return fileExists(s.manifestPath);
  }

  /** The storage of a single-entry keychain (no manifest yet: written at the first rotation). */
  static single(s: KeychainSettings): KeychainStorage {
    return new KeychainStorage(s, { active: s.kid, pending: null, minting: null, keys: { [s.kid]: s.account } });
  }

  /**
   * Loads every recorded kid's key from the keychain (and settles an interrupted mint).
   * @throws CofferError KEY_INVALID, KEY_NOT_FOUND, KEY_UNAVAILABLE.
   */
  static async load(s: KeychainSettings): Promise<{ storage: KeychainStorage; providers: KekProvider[] }> {
    const storage = new KeychainStorage(s, parseKcManifest(s.manifestPath));
    const m = storage.#m;
    if (m.minting !== null) {
      const account = storage.#accountFor(m.minting);
      let text: string | null;
      try {
        text = await (await openEntry({ ...s, account })).getPassword(AbortSignal.timeout(s.timeoutMs));
      } catch (e) {
        // Unknown whether the entry was written: keep the intent recorded and fail closed.
        throw new CofferError("KEY_UNAVAILABLE", `the OS keychain is not reachable (${reasonOf(e)}); unlock or start the keychain`, {
          kid: m.minting,
        });
      }
      storage.#save(
        text === null
          ? { ...m, minting: null }
          : { ...m, minting: null, keys: { ...m.keys, [m.minting]: account }, pending: m.pending ?? m.minting },
      );
    }
    const providers: KekProvider[] = [];
    for (const [kid, account] of Object.entries(storage.#m.keys)) {
      providers.push(new LocalKek("keychain", kid as Kid, await readEntry(s, account, kid)));
    }
    return { storage, providers };
  }

  get active(): Kid {
    return this.#m.active;
  }

  get pending(): Kid | null {
    return this.#m.pending;
  }

  taken(kid: Kid): boolean {
    return Object.hasOwn(this.#m.keys, kid) || this.#m.minting === kid;
  }

  #accountFor(kid: string): string {
    return `${kid}@${this.#s.home}`;
  }

  #save(m: KcManifest): void {
    mkdirSync(dirname(this.#s.manifestPath), { recursive: true, mode: 0o700 });
    replaceFileAtomically(this.#s.manifestPath, `${JSON.stringify(m, null, 2)}\n`, "keychain manifest", 0o600);
    this.#m = m;
  }

  async mint(kid: Kid): Promise<KekProvider> {
    if (this.taken(kid))
      throw new CofferError("CONFLICT", `kid '${kid}' already names a key in the OS keychain; choose another --kid`, { kid });
    const account = this.#accountFor(kid);
    const where = `keychain entry service '${this.#s.service}' account '${account}'`;
    this.#save({ ...this.#m, minting: kid });
    let text: string | null;
    try {
      const entry = await openEntry({ ...this.#s, account });
      // An entry already there was written for this kid by a mint killed before it recorded it:
      // it was never used, so it is adopted rather than overwritten.
      text = await entry.getPassword(AbortSignal.timeout(this.#s.timeoutMs));
      if (text === null) {
        const bytes = AesKey.generate().exportBytes();
        try {
          await entry.setPassword(encodeBase64(bytes), AbortSignal.timeout(this.#s.timeoutMs));
        } finally {
          bytes.fill(0);
        }
        text = await entry.getPassword(AbortSignal.timeout(this.#s.timeoutMs));
      }
    } catch (e) {
      throw new CofferError("KEY_UNAVAILABLE", `cannot write the ${where} (${reasonOf(e)})`, { kid });
    }
    if (text === null) throw new CofferError("KEY_UNAVAILABLE", `the ${where} vanished right after it was written`, { kid });
    const key = parseKeyBase64(text, where);
    crashPoint("key-written");
    this.#save({ ...this.#m, minting: null, keys: { ...this.#m.keys, [kid]: account }, pending: kid });
    crashPoint("key-recorded");
    return new LocalKek("keychain", kid, key);
  }

  /** Re-reads the manifest; keys of kids another process minted are read at the next start (the keychain is asynchronous). */
  reload(): { readonly active: Kid; readonly added: readonly KekProvider[] } {
    if (fileExists(this.#s.manifestPath)) this.#m = parseKcManifest(this.#s.manifestPath);
    return { active: this.#m.active, added: [] };
  }

  activate(kid: Kid): Promise<void> {
    if (!Object.hasOwn(this.#m.keys, kid))
      return Promise.reject(new CofferError("KEY_NOT_FOUND", `kid '${kid}' is not recorded in ${this.#s.manifestPath}`, { kid }));
    this.#save({ ...this.#m, active: kid, pending: this.#m.pending === kid ? null : this.#m.pending });
    return Promise.resolve();
  }
}
