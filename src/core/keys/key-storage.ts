import { randomBytes } from "node:crypto";
import { linkSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { AesKey, encodeBase64, parseKeyBase64 } from "../crypto/index.ts";
import { CofferError } from "../errors/index.ts";
import { hasTextFields, isKid, Kid, KID_RULE, lazySchema } from "../model/index.ts";
import { crashPoint } from "./crash-point.ts";
import { replaceFileAtomically, writeNewFileDurably } from "./durable-file.ts";
import type { KekProvider } from "./kek-provider.ts";
import { createKeyFile, fileExists, readKeyFile, readPrivateText } from "./key-file.ts";
import type { KeyServiceDefaults } from "./key-service-settings.ts";
import { LocalKek } from "./local-kek.ts";
import { vaultTransitClient, vaultTransitKek } from "./service-keks.ts";

function isTransitEntry(v: unknown): v is TransitEntry {
  const e = v as Partial<Record<string, unknown>> | null;
  return (
    typeof e === "object" &&
    e !== null &&
    e["provider"] === "vault-transit" &&
    typeof e["key"] === "string" &&
    (e["mount"] === undefined || typeof e["mount"] === "string") &&
    (e["address"] === undefined || typeof e["address"] === "string") &&
    (e["version"] === undefined || typeof e["version"] === "number")
  );
}

type TransitEntry = {
  readonly provider: "vault-transit";
  readonly key: string;
  readonly mount?: string;
  readonly address?: string;
  readonly version?: number;
};

/**
 * Where a provider that can mint keeps its kids: it stores a new key, records it, and records
 * which kid is active, each step durable and atomic, in an order where a crash between two
 * steps leaves either the old key active with the new key stored and recorded (as `pending`),
 * or the new key active with a resumable rotation — never an active kid whose key is not stored.
 */
export interface KeyStorage {
  /** What the keys are stored in, for messages: "key file", "keyring file", "OS keychain". */
  readonly what: string;
  /** Key-service kinds whose active kid this storage can mint a successor for (a new Transit key version). */
  readonly mints?: readonly string[];
  /** A kid minted by an interrupted rotation: stored and recorded, never made active. */
  readonly pending: Kid | null;
  /** Is this kid name taken by a stored key (recorded or not)? */
  taken(kid: Kid): boolean;
  /** Stores a new random key under `kid` and records it as pending (not active). */
  mint(kid: Kid): Promise<KekProvider>;
  /** Records `kid` (already recorded) as the active kid, and clears `pending`. */
  activate(kid: Kid): Promise<void>;
  /**
   * Re-reads the record (another server sharing it may have rotated): the active kid, and the
   * keys of recorded kids not in `known`.
   */
  reload(known: ReadonlySet<string>): { readonly active: Kid; readonly added: readonly KekProvider[] };
}

/** The manifest of the file provider: `secrets/keys.json`. */
export const MANIFEST_NAME = "keys.json";
const KEY_FILE = /^master-key(\.[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/;
const Manifest = lazySchema((z) =>
  z.strictObject({
    active: z.string(),
    pending: z.nullable(z.string()),
    keys: z.record(z.string(), z.string()),
  }),
);
type ManifestData = { active: Kid; pending: Kid | null; keys: Record<string, string> };
const MANIFEST_FIELDS = { active: "text", pending: "text-or-null", keys: "text-record" } as const;
type ManifestJson = { active: string; pending: string | null; keys: Record<string, string> };

export function manifestPathFor(masterKeyPath: string): string {
  return join(dirname(masterKeyPath), MANIFEST_NAME);
}

function parseManifest(path: string): ManifestData {
  const text = readPrivateText(path, "key manifest");
  const bad = (why: string): CofferError =>
    new CofferError("KEY_INVALID", `key manifest ${path} ${why}; restore it from your backup of the secrets directory`, { path });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad("is not valid JSON");
  }
  // Checked without zod when it has the expected shape (it is read on every start); the schema decides the rest.
  const parsed = hasTextFields(json, MANIFEST_FIELDS) ? { success: true as const, data: json as ManifestJson } : Manifest.safeParse(json);
  if (!parsed.success) throw bad(`must be { "active": "<kid>", "pending": "<kid>" | null, "keys": { "<kid>": "master-key[.<kid>]" } }`);
  for (const [kid, file] of Object.entries(parsed.data.keys)) {
    if (!isKid(kid)) throw bad(`has kid '${kid.slice(0, 64)}' that ${KID_RULE}`);
    if (!KEY_FILE.test(file))
      throw bad(`names key file '${file.slice(0, 80)}' for kid '${kid}'; only master-key or master-key.<kid> in the same directory`);
  }
  const { active, pending } = parsed.data;
  if (!Object.hasOwn(parsed.data.keys, active)) throw bad(`has "active": "${active.slice(0, 64)}", which is not one of its keys`);
  if (pending !== null && !Object.hasOwn(parsed.data.keys, pending))
    throw bad(`has "pending": "${pending.slice(0, 64)}", which is not one of its keys`);
  return { active: active as Kid, pending: pending as Kid | null, keys: { ...parsed.data.keys } };
}

/**
 * The file provider's keys: `secrets/master-key` (the first key, kid from `COFFER_KEK_ID`,
 * default `primary`) and `secrets/master-key.<kid>` for every key a rotation minted, each 0600;
 * `secrets/keys.json` (0600) records the kids, their files and the active one. Without a
 * manifest the directory is the single-key layout of earlier versions.
 */
export class FileKeyStorage implements KeyStorage {
  readonly what = "key file";
  readonly #dir: string;
  readonly #manifestPath: string;
  #m: ManifestData;

  private constructor(dir: string, manifest: ManifestData) {
    this.#dir = dir;
    this.#manifestPath = join(dir, MANIFEST_NAME);
    this.#m = manifest;
  }

  /**
   * Opens the key directory of `masterKeyPath`. A key file written by a rotation that was
   * killed before it recorded it (an orphan, never used to wrap anything since only a recorded
   * kid can become active) is adopted: recorded as `pending`, so the next rotation uses it.
   * Leftover temporary files of an interrupted write (incomplete by construction) are removed.
   * @throws CofferError KEY_NOT_FOUND, KEY_INVALID, KEY_UNAVAILABLE.
   */
  static open(masterKeyPath: string, kid: Kid, allowCreate: boolean): { storage: FileKeyStorage; providers: KekProvider[] } {
    const dir = dirname(masterKeyPath);
    const manifestPath = join(dir, MANIFEST_NAME);
    let storage: FileKeyStorage;
    const providers: KekProvider[] = [];
    if (fileExists(manifestPath)) {
      storage = new FileKeyStorage(dir, parseManifest(manifestPath));
    } else {
      if (!fileExists(masterKeyPath)) {
        if (!allowCreate) {
          throw new CofferError(
            "KEY_NOT_FOUND",
            `master key file ${masterKeyPath} is missing, but this database holds data wrapped by kid '${kid}'; restore the file from your backup (a new key could not decrypt anything)`,
            { path: masterKeyPath, kid },
          );
        }
        providers.push(new LocalKek("file", kid, createKeyFile(masterKeyPath)));
      }
      storage = new FileKeyStorage(dir, { active: kid, pending: null, keys: { [kid]: "master-key" } });
    }
    storage.#adoptOrphans();
    for (const [k, file] of Object.entries(storage.#m.keys)) {
      if (providers.some((p) => p.kid === k)) continue;
      providers.push(new LocalKek("file", k as Kid, readKeyFile(join(dir, file), `master key file for kid '${k}'`)));
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
    return Object.hasOwn(this.#m.keys, kid) || fileExists(join(this.#dir, `master-key.${kid}`));
  }

  #adoptOrphans(): void {
    let names: string[];
    try {
      names = readdirSync(this.#dir);
    } catch {
      return;
    }
    const recorded = new Set(Object.values(this.#m.keys));
    let changed = false;
    for (const name of names) {
      if (/^\.master-key\..*\.tmp$/.test(name)) {
        // Left by a process that died while writing a key. One that is younger may be another
        // process's key being written right now (it links it into place in a moment): kept.
        if (isStale(join(this.#dir, name))) removeIfThere(join(this.#dir, name));
        continue;
      }
      if (!name.startsWith("master-key.") || recorded.has(name) || !KEY_FILE.test(name)) continue;
      const kid = name.slice("master-key.".length) as Kid;
      if (Object.hasOwn(this.#m.keys, kid)) continue;
      readKeyFile(join(this.#dir, name), `unrecorded master key file for kid '${kid}'`);
      this.#m = { ...this.#m, keys: { ...this.#m.keys, [kid]: name }, pending: this.#m.pending ?? kid };
      changed = true;
    }
    if (changed) this.#save(this.#m);
  }

  #save(m: ManifestData): void {
    replaceFileAtomically(this.#manifestPath, `${JSON.stringify(m, null, 2)}\n`, "key manifest", 0o600);
    this.#m = m;
  }

  mint(kid: Kid): Promise<KekProvider> {
    if (this.taken(kid))
      return Promise.reject(new CofferError("CONFLICT", `kid '${kid}' already names a stored key; choose another --kid`, { kid }));
    const name = `master-key.${kid}`;
    const key = AesKey.generate();
    const bytes = key.exportBytes();
    // Written under a temporary name, then linked into place (never overwriting): the final
    // name only ever holds a complete, fsynced key.
    const tmp = join(this.#dir, `.${name}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      writeNewFileDurably(tmp, `${encodeBase64(bytes)}\n`, 0o600, "master key file");
      linkSync(tmp, join(this.#dir, name));
      unlinkSync(tmp);
    } catch (e) {
      if (e instanceof CofferError) return Promise.reject(e);
      return Promise.reject(
        new CofferError(
          "KEY_UNAVAILABLE",
          `cannot write master key file ${join(this.#dir, name)} (${(e as NodeJS.ErrnoException).code ?? "EIO"})`,
          {
            kid,
          },
        ),
      );
    } finally {
      bytes.fill(0);
    }
    crashPoint("key-written");
    this.#save({ ...this.#m, keys: { ...this.#m.keys, [kid]: name }, pending: kid });
    crashPoint("key-recorded");
    return Promise.resolve(new LocalKek("file", kid, key));
  }

  reload(known: ReadonlySet<string>): { readonly active: Kid; readonly added: readonly KekProvider[] } {
    if (fileExists(this.#manifestPath)) this.#m = parseManifest(this.#manifestPath);
    const added = Object.entries(this.#m.keys)
      .filter(([k]) => !known.has(k))
      .map(([k, file]) => new LocalKek("file", k as Kid, readKeyFile(join(this.#dir, file), `master key file for kid '${k}'`)));
    return { active: this.#m.active, added };
  }

  activate(kid: Kid): Promise<void> {
    if (!Object.hasOwn(this.#m.keys, kid))
      return Promise.reject(new CofferError("KEY_NOT_FOUND", `kid '${kid}' is not recorded in ${this.#manifestPath}`, { kid }));
    this.#save({ ...this.#m, active: kid, pending: this.#m.pending === kid ? null : this.#m.pending });
    return Promise.resolve();
  }
}

/**
 * A keyring file as key storage: a new local key is one more entry, written with `pending`
 * in one atomic replace (so "written" and "recorded" are one step), every other entry, key
 * order and the file's mode kept; activation rewrites `active`. The file is re-read before
 * each change, so an edit made by hand meanwhile is kept too.
 */
export class KeyringFileStorage implements KeyStorage {
  readonly what = "keyring file";
  readonly mints: readonly string[];
  readonly #path: string;
  readonly #services: KeyServiceDefaults | null;
  #pending: Kid | null;
  #kids: Set<string>;

  constructor(path: string, kids: readonly string[], pending: Kid | null, services: KeyServiceDefaults | null = null) {
    this.#path = path;
    this.#kids = new Set(kids);
    this.#pending = pending;
    this.#services = services;
    this.mints = services === null ? [] : ["vault-transit"];
  }

  get pending(): Kid | null {
    return this.#pending;
  }

  taken(kid: Kid): boolean {
    return this.#kids.has(kid);
  }

  #read(): { active: string; pending?: string; keys: Record<string, unknown> } & Record<string, unknown> {
    const json = JSON.parse(readPrivateText(this.#path, "keyring file")) as { active: string; keys: Record<string, unknown> };
    if (typeof json !== "object" || typeof json.keys !== "object") {
      throw new CofferError("KEY_INVALID", `keyring file ${this.#path} changed on disk and is no longer a keyring`, { path: this.#path });
    }
    return json;
  }

  mint(kid: Kid): Promise<KekProvider> {
    const doc = this.#read();
    if (this.taken(kid) || Object.hasOwn(doc.keys, kid)) {
      return Promise.reject(
        new CofferError("CONFLICT", `kid '${kid}' is already in keyring file ${this.#path}; choose another --kid`, { kid }),
      );
    }
    const active = doc.keys[doc.active];
    if (typeof active === "object" && active !== null && (active as { provider?: unknown }).provider === "vault-transit") {
      return this.#mintTransitVersion(kid, doc.active as Kid, active as TransitEntry);
    }
    const key = AesKey.generate();
    const bytes = key.exportBytes();
    try {
      replaceFileAtomically(
        this.#path,
        `${JSON.stringify({ ...doc, keys: { ...doc.keys, [kid]: encodeBase64(bytes) }, pending: kid }, null, 2)}\n`,
        "keyring file",
      );
    } finally {
      bytes.fill(0);
    }
    this.#kids.add(kid);
    this.#pending = kid;
    crashPoint("key-written");
    crashPoint("key-recorded");
    return Promise.resolve(new LocalKek("keyring", kid, key));
  }

  /**
   * A new Transit key version as the new kid: `POST <mount>/keys/<name>/rotate` (Vault keeps
   * the version; Coffer never sees key material), then one more keyring entry, the same key
   * pinned to that version, recorded as pending in one atomic replace. A kill between the two
   * leaves a Transit version nothing in Coffer names: harmless (Vault holds it, the old kid
   * still decrypts everything), and the next rotation makes another.
   */
  async #mintTransitVersion(kid: Kid, activeKid: Kid, active: TransitEntry): Promise<KekProvider> {
    const services = this.#services;
    if (services === null) throw new CofferError("KEY_CANNOT_MINT", "a key-service entry is not allowed here", { kid });
    const where = `keyring file ${this.#path} key '${kid}'`;
    const base: TransitEntry = {
      provider: "vault-transit",
      key: active.key,
      ...(active.mount === undefined ? {} : { mount: active.mount }),
      ...(active.address === undefined ? {} : { address: active.address }),
    };
    const version = await vaultTransitClient(activeKid, base, services, `keyring file ${this.#path} key '${activeKid}'`).rotateKey();
    crashPoint("key-written");
    const entry: TransitEntry = { ...base, version };
    const provider = vaultTransitKek(kid, entry, services, where);
    const doc = this.#read();
    replaceFileAtomically(
      this.#path,
      `${JSON.stringify({ ...doc, keys: { ...doc.keys, [kid]: entry }, pending: kid }, null, 2)}\n`,
      "keyring file",
    );
    this.#kids.add(kid);
    this.#pending = kid;
    crashPoint("key-recorded");
    return provider;
  }

  reload(known: ReadonlySet<string>): { readonly active: Kid; readonly added: readonly KekProvider[] } {
    const doc = this.#read();
    const added: KekProvider[] = [];
    for (const [k, entry] of Object.entries(doc.keys)) {
      this.#kids.add(k);
      const kid = Kid.safeParse(k);
      if (known.has(k) || !kid.success) continue;
      const where = `keyring file ${this.#path} key '${k}'`;
      if (typeof entry === "string") added.push(new LocalKek("keyring", kid.data, parseKeyBase64(entry, where)));
      // A Transit version another server minted; other key-service entries added by hand need a restart.
      else if (this.#services !== null && isTransitEntry(entry)) added.push(vaultTransitKek(kid.data, entry, this.#services, where));
    }
    this.#pending = typeof doc.pending === "string" ? (doc.pending as Kid) : null;
    return { active: doc.active as Kid, added };
  }

  activate(kid: Kid): Promise<void> {
    const doc = this.#read();
    if (!Object.hasOwn(doc.keys, kid))
      return Promise.reject(new CofferError("KEY_NOT_FOUND", `kid '${kid}' is not in keyring file ${this.#path}`, { kid }));
    const next: Record<string, unknown> = { ...doc, active: kid };
    if (doc.pending === kid) delete next["pending"];
    replaceFileAtomically(this.#path, `${JSON.stringify(next, null, 2)}\n`, "keyring file");
    if (this.#pending === kid) this.#pending = null;
    return Promise.resolve();
  }
}

/** How old a temporary key file must be before it counts as left behind by a dead writer. */
const STALE_TMP_MS = 60_000;

function isStale(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > STALE_TMP_MS;
  } catch {
    return false; // already gone
  }
}

function removeIfThere(path: string): void {
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
}
