import { randomBytes } from "node:crypto";
import { constantTimeEqual } from "../core/crypto/index.ts";
import { CofferError } from "../core/errors/index.ts";
import { parseBinaryDocument, parseJsonDocument } from "./codec-json.ts";
import { parseDotenv } from "./codec-dotenv.ts";
import { parseIni } from "./codec-ini.ts";
import { parseYaml } from "./codec-yaml.ts";
import { decryptValue, encryptValue } from "./enc-value.ts";
import { DATA_KEY_BYTES, unwrapDataKey, wrapDataKey, type WrapContext } from "./data-key.ts";
import type { KeyServices } from "./master-keys.ts";
import type { SopsDocument } from "./leaf.ts";
import {
  DEFAULT_RULE,
  formatLastModified,
  keyLabel,
  metadataToRaw,
  refOf,
  sameKey,
  parseMetadata,
  recipientsOf,
  SOPS_FORMAT_VERSION,
  type EncryptionRule,
  type KeyGroup,
  type KeyRef,
  type Metadata,
} from "./metadata.ts";
import { decryptLeaves, encryptLeaves } from "./walk.ts";

/** The file formats, chosen from the extension or `--input-type` (FORMAT.md §9). */
export const FILE_FORMATS = ["yaml", "json", "dotenv", "ini", "binary"] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];

export type StoreOptions = { readonly yamlIndent: number | null; readonly jsonIndent: number | null };
const DEFAULT_STORES: StoreOptions = { yamlIndent: null, jsonIndent: null };

export function formatFromPath(path: string): FileFormat {
  const m = /\.([A-Za-z0-9]+)$/.exec(path);
  switch (m?.[1]?.toLowerCase()) {
    case "yaml":
    case "yml":
      return "yaml";
    case "json":
      return "json";
    case "env":
      return "dotenv";
    case "ini":
      return "ini";
    default:
      return "binary";
  }
}

export function parseDocument(bytes: Uint8Array, format: FileFormat, encrypted: boolean, stores = DEFAULT_STORES): SopsDocument {
  switch (format) {
    case "yaml":
      return parseYaml(bytes, stores.yamlIndent ?? 4);
    case "json":
      return parseJsonDocument(bytes, stores.jsonIndent);
    case "dotenv":
      return parseDotenv(bytes);
    case "ini":
      return parseIni(bytes);
    case "binary":
      return parseBinaryDocument(bytes, encrypted, stores.jsonIndent);
  }
}

/** Master keys by key group (several groups: Shamir, `shamirThreshold` of them needed; 0 = all). */
export type Recipients = { readonly groups: readonly (readonly KeyRef[])[]; readonly shamirThreshold: number };

/** How master keys other than age are reached, and whether an unreachable one may be left out (loudly). */
export type KeyAccess = {
  readonly services: KeyServices | null;
  readonly skipUnavailable?: boolean;
  readonly onSkip?: (label: string, why: string) => void;
};
const NO_SERVICES: KeyAccess = { services: null };

function wrapContext(a: KeyAccess, keep?: readonly import("./metadata.ts").MasterKey[]): WrapContext {
  return {
    services: a.services,
    skipUnavailable: a.skipUnavailable ?? false,
    ...(a.onSkip ? { onSkip: a.onSkip } : {}),
    ...(keep ? { keep } : {}),
  };
}

export type EncryptOptions = Recipients & {
  readonly keys?: KeyAccess;
  readonly rule: EncryptionRule | null;
  /** sops's `encrypted_comment_regex`/`unencrypted_comment_regex` (then no key rule is written, as sops does). */
  readonly commentRule?: Metadata["commentRule"];
  readonly macOnlyEncrypted: boolean;
  readonly stores?: StoreOptions;
  readonly now?: Date;
};

type SealInput = {
  readonly keyGroups: readonly KeyGroup[];
  readonly shamirThreshold: number;
  readonly rule: EncryptionRule;
  readonly macOnlyEncrypted: boolean;
  readonly commentRule?: Metadata["commentRule"];
  readonly stash?: Map<string, string>;
  readonly now?: Date;
};

/** Encrypts the document's leaves and sets fresh `lastmodified`, `mac` and `version`. */
function seal(doc: SopsDocument, dataKey: Uint8Array, s: SealInput): { encrypted: number; reused: number; fresh: number } {
  const walked = encryptLeaves(doc.leaves(), dataKey, {
    rule: s.rule,
    commentRule: s.commentRule,
    macOnlyEncrypted: s.macOnlyEncrypted,
    ...(s.stash ? { stash: s.stash } : {}),
  });
  const lastmodified = formatLastModified(s.now ?? new Date());
  const meta: Metadata = {
    keyGroups: s.keyGroups,
    shamirThreshold: s.shamirThreshold,
    lastmodified,
    mac: encryptValue(dataKey, { type: "str", bytes: new TextEncoder().encode(walked.mac) }, lastmodified),
    rule: s.rule,
    macOnlyEncrypted: s.macOnlyEncrypted,
    version: SOPS_FORMAT_VERSION,
    commentRule: s.commentRule,
  };
  doc.setMetadata(metadataToRaw(meta));
  return walked;
}

/**
 * Encrypts a plaintext file under a fresh data key wrapped to every recipient.
 * @throws CofferError INVALID_INPUT when the file already has sops metadata or no recipient is given.
 */
export async function encryptFile(
  bytes: Uint8Array,
  format: FileFormat,
  opts: EncryptOptions,
): Promise<{ bytes: Uint8Array; encrypted: number }> {
  const doc = parseDocument(bytes, format, false, opts.stores);
  if (doc.metadata !== null)
    throw new CofferError("INVALID_INPUT", "sops: the file is already encrypted (it has sops metadata); use rotate or updatekeys", {
      field: "sops",
    });
  const dataKey = randomBytes(DATA_KEY_BYTES);
  const keyGroups = await wrapDataKey(dataKey, opts.groups, opts.shamirThreshold, wrapContext(opts.keys ?? NO_SERVICES));
  const r = seal(doc, dataKey, { ...opts, keyGroups, rule: opts.rule ?? DEFAULT_RULE });
  return { bytes: doc.serialize(), encrypted: r.encrypted };
}

export type Opened = {
  readonly doc: SopsDocument;
  readonly meta: Metadata;
  readonly dataKey: Uint8Array;
  /** (AAD, type, plaintext) → original ENC[] string, for edits that keep unchanged ciphertext. */
  readonly stash: Map<string, string>;
  readonly macVerified: boolean;
};

export function readMetadata(doc: SopsDocument): Metadata {
  if (doc.metadata === null)
    throw new CofferError("CIPHERTEXT_MALFORMED", "sops: the file has no sops metadata (is it encrypted?)", { field: "sops" });
  return parseMetadata(doc.metadata);
}

/**
 * Opens an encrypted file: unwraps the data key with the identities, decrypts every value in
 * place and verifies the MAC.
 * @throws CofferError MAC_MISMATCH unless `ignoreMac`; KEY_NOT_FOUND, DECRYPT_FAILED, CIPHERTEXT_MALFORMED.
 */
export async function openFile(
  bytes: Uint8Array,
  format: FileFormat,
  identities: readonly string[],
  opts: { readonly ignoreMac: boolean; readonly stores?: StoreOptions; readonly keys?: KeyAccess },
): Promise<Opened> {
  const doc = parseDocument(bytes, format, true, opts.stores);
  const meta = readMetadata(doc);
  return openWithDataKey(doc, meta, await unwrapDataKey(meta, identities, opts.keys?.services ?? null), opts.ignoreMac);
}

/** The value and MAC layer alone, given the data key (tests pin it with the vectors' known keys). */
export function openWithDataKey(doc: SopsDocument, meta: Metadata, dataKey: Uint8Array, ignoreMac: boolean): Opened {
  const stash = new Map<string, string>();
  const computed = decryptLeaves(doc.leaves(), dataKey, {
    rule: meta.rule,
    commentRule: meta.commentRule,
    macOnlyEncrypted: meta.macOnlyEncrypted,
    stash,
  });
  let stored = "";
  try {
    stored = new TextDecoder().decode(decryptValue(dataKey, meta.mac, meta.lastmodified, "sops.mac").bytes);
  } catch (e) {
    if (!ignoreMac) throw macMismatch("the MAC itself does not decrypt (was lastmodified or mac changed?)", e);
  }
  const enc = new TextEncoder();
  const macVerified = constantTimeEqual(enc.encode(stored), enc.encode(computed));
  if (!macVerified && !ignoreMac) throw macMismatch("the values do not match the file's MAC: the file was changed outside sops/Coffer");
  doc.setMetadata(null);
  return { doc, meta, dataKey, stash, macVerified };
}

function macMismatch(why: string, cause?: unknown): CofferError {
  return new CofferError("MAC_MISMATCH", `sops.mac: ${why}; refusing to use it (--ignore-mac overrides)`, { field: "sops.mac" }, { cause });
}

/** Re-encrypts an opened document (its leaves now plaintext) under the same data key, reusing unchanged ciphertext. */
export function resealFile(
  opened: Opened,
  edited: SopsDocument,
  now?: Date,
): { bytes: Uint8Array; encrypted: number; reused: number; fresh: number } {
  const r = seal(edited, opened.dataKey, {
    commentRule: opened.meta.commentRule,
    keyGroups: opened.meta.keyGroups,
    shamirThreshold: opened.meta.shamirThreshold,
    rule: opened.meta.rule,
    macOnlyEncrypted: opened.meta.macOnlyEncrypted,
    stash: opened.stash,
    ...(now ? { now } : {}),
  });
  return { bytes: edited.serialize(), ...r };
}

export type KeyChange = {
  /** Master keys added and removed, as `type id` labels (`age age1…`, `kms arn:aws:kms:…`). */
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Master keys whose stanza was kept as it was (updatekeys: still listed, same data key). */
  readonly kept: readonly string[];
};

function diff(before: Metadata, after: readonly (readonly KeyRef[])[], kept: readonly string[] = []): KeyChange {
  const old = recipientsOf(before);
  const now = after.flat();
  const labels = (xs: readonly KeyRef[]): string[] => [...new Set(xs.map(keyLabel))];
  return {
    added: labels(now.filter((r) => !old.some((o) => sameKey(o, r)))),
    removed: labels(old.filter((o) => !now.some((r) => sameKey(o, r)))),
    kept,
  };
}

function groupsOf(groups: readonly KeyGroup[]): KeyRef[][] {
  return groups.map((g) => g.keys.map(refOf));
}

/**
 * New data key, every value re-encrypted, wrapped to `recipients` (default: the file's own
 * master keys, every type: one that cannot be reached is an error unless skipped loudly).
 */
export async function rotateFile(
  bytes: Uint8Array,
  format: FileFormat,
  identities: readonly string[],
  opts: {
    readonly recipients: Recipients | null;
    readonly stores?: StoreOptions;
    readonly ignoreMac: boolean;
    readonly keys?: KeyAccess;
  },
): Promise<{ bytes: Uint8Array; encrypted: number; change: KeyChange; keyGroups: readonly KeyGroup[] }> {
  const access = opts.keys ?? NO_SERVICES;
  const opened = await openFile(bytes, format, identities, { ...opts, keys: access });
  const groups = opts.recipients?.groups ?? groupsOf(opened.meta.keyGroups);
  const threshold = opts.recipients?.shamirThreshold ?? opened.meta.shamirThreshold;
  const dataKey = randomBytes(DATA_KEY_BYTES);
  const keyGroups = await wrapDataKey(dataKey, groups, threshold, wrapContext(access));
  const r = seal(opened.doc, dataKey, {
    commentRule: opened.meta.commentRule,
    keyGroups,
    shamirThreshold: threshold,
    rule: opened.meta.rule,
    macOnlyEncrypted: opened.meta.macOnlyEncrypted,
  });
  opened.dataKey.fill(0);
  return { bytes: opened.doc.serialize(), encrypted: r.encrypted, change: diff(opened.meta, groupsOf(keyGroups)), keyGroups };
}

/**
 * Rewraps the same data key for `recipients`; values, `mac`, `lastmodified` and `version` are
 * untouched (sops `updatekeys`). With one key group before and after, every stanza whose master
 * key is still listed is kept byte for byte (so a KMS key need not be reachable to stay), and
 * only new master keys are wrapped; with Shamir groups the shares are made anew. Returns `null`
 * bytes when nothing would change.
 */
export async function updateKeysFile(
  bytes: Uint8Array,
  format: FileFormat,
  identities: readonly string[],
  opts: { readonly recipients: Recipients; readonly stores?: StoreOptions; readonly keys?: KeyAccess },
): Promise<{ bytes: Uint8Array | null; change: KeyChange }> {
  const doc = parseDocument(bytes, format, true, opts.stores);
  const meta = readMetadata(doc);
  const change = diff(meta, opts.recipients.groups);
  const sameShape =
    meta.keyGroups.length === opts.recipients.groups.length &&
    meta.keyGroups.every((g, i) => sameSet(g.keys.map(refOf), opts.recipients.groups[i] ?? [])) &&
    meta.shamirThreshold === opts.recipients.shamirThreshold;
  if (sameShape) return { bytes: null, change };
  const access = opts.keys ?? NO_SERVICES;
  const single = meta.keyGroups.length === 1 && opts.recipients.groups.length === 1;
  const keep = single ? (meta.keyGroups[0]?.keys ?? []) : [];
  const needsKey = !single || opts.recipients.groups[0]?.some((r) => !keep.some((k) => sameKey(refOf(k), r))) === true;
  const dataKey = needsKey ? await unwrapDataKey(meta, identities, access.services) : new Uint8Array(DATA_KEY_BYTES);
  const keyGroups = await wrapDataKey(dataKey, opts.recipients.groups, opts.recipients.shamirThreshold, wrapContext(access, keep));
  dataKey.fill(0);
  const kept = keep.filter((k) => keyGroups[0]?.keys.includes(k) === true).map(keyLabel);
  doc.setMetadata(metadataToRaw({ ...meta, keyGroups, shamirThreshold: opts.recipients.shamirThreshold }));
  return { bytes: doc.serialize(), change: diff(meta, groupsOf(keyGroups), kept) };
}

function sameSet(a: readonly KeyRef[], b: readonly KeyRef[]): boolean {
  return a.every((x) => b.some((y) => sameKey(x, y))) && b.every((y) => a.some((x) => sameKey(x, y)));
}

/** The master keys an encrypted file is wrapped to, without opening it. */
export function fileRecipients(bytes: Uint8Array, format: FileFormat): Recipients {
  const meta = readMetadata(parseDocument(bytes, format, true));
  return { groups: groupsOf(meta.keyGroups), shamirThreshold: meta.shamirThreshold };
}
