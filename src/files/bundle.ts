import { armor, Decrypter, Encrypter } from "age-encryption";
import * as z from "zod/mini";
import { CofferError } from "../core/errors/index.ts";
import { Secret } from "../core/secret/index.ts";

/**
 * A Coffer bundle: a JSON document encrypted with age (armored), so it opens with any age
 * implementation (`age -d -i key.txt`). The document:
 *
 * ```json
 * { "format": "coffer-bundle", "version": 1,
 *   "manifest": { "owner": "project/acme", "createdAt": "…", "prefix": null, "count": 2, "keys": ["A", "B"] },
 *   "entries": [{ "key": "A", "value": "<base64>", "meta": {}, "version": 3 }, …] }
 * ```
 *
 * The manifest holds counts and names only: no digest of any value (an unkeyed hash of a
 * low-entropy value would let anyone holding the bundle confirm a guess). age's own MAC and
 * STREAM tags authenticate the whole document.
 */
export const BUNDLE_FORMAT = "coffer-bundle";
export const BUNDLE_VERSION = 1;

export type BundleEntry = {
  readonly key: string;
  readonly value: Secret;
  readonly meta: Readonly<Record<string, string>>;
  readonly version: number;
};

export type BundleManifest = {
  readonly owner: string;
  readonly createdAt: string;
  readonly prefix: string | null;
  readonly count: number;
  readonly keys: readonly string[];
};

export type OpenedBundle = { readonly manifest: BundleManifest; readonly entries: readonly BundleEntry[] };

/** Who can open a bundle: age recipients (`age1…`, `age1pq1…`), or one passphrase (scrypt). */
export type BundleSeal =
  | { readonly kind: "recipients"; readonly recipients: readonly string[] }
  | { readonly kind: "passphrase"; readonly passphrase: Secret; readonly scryptWorkFactor?: number };

/** What may open a bundle: age identities and/or a passphrase. */
export type BundleKeys = { readonly identities: readonly string[]; readonly passphrase: Secret | null };

const Base64 = z.string().check(z.regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64"));
const Document = z.object({
  format: z.literal(BUNDLE_FORMAT),
  version: z.literal(BUNDLE_VERSION),
  manifest: z.object({
    owner: z.string(),
    createdAt: z.string(),
    prefix: z.nullable(z.string()),
    count: z.int(),
    keys: z.array(z.string()),
  }),
  entries: z.array(z.object({ key: z.string(), value: Base64, meta: z.record(z.string(), z.string()), version: z.int() })),
});

const ARMOR_BEGIN = "-----BEGIN AGE ENCRYPTED FILE-----";
const BINARY_MAGIC = "age-encryption.org/v1\n";

/** Whether the bytes are an age file (armored or binary), which is how a bundle is recognised. */
export function isAgeFile(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  return head.startsWith(ARMOR_BEGIN) || head.startsWith(BINARY_MAGIC);
}

function binaryOf(bytes: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  if (!text.startsWith(ARMOR_BEGIN)) return bytes;
  try {
    return armor.decode(new TextDecoder().decode(bytes));
  } catch {
    throw new CofferError("CIPHERTEXT_MALFORMED", "bundle: the age armor does not parse");
  }
}

/** Whether the bundle was sealed with a passphrase (its header has an scrypt stanza). */
export function needsPassphrase(bytes: Uint8Array): boolean {
  const bin = binaryOf(bytes);
  const end = Buffer.from(bin).indexOf("\n---");
  const header = new TextDecoder().decode(bin.subarray(0, end < 0 ? Math.min(bin.byteLength, 4096) : end));
  return /\n-> scrypt /.test(header);
}

/** Seals entries into an armored age bundle. The caller keeps ownership of the values (wipes them). */
export async function sealBundle(
  b: Omit<BundleManifest, "count" | "keys"> & { readonly entries: readonly BundleEntry[] },
  seal: BundleSeal,
): Promise<string> {
  const e = new Encrypter();
  if (seal.kind === "passphrase") {
    if (seal.scryptWorkFactor !== undefined) e.setScryptWorkFactor(seal.scryptWorkFactor);
    e.setPassphrase(seal.passphrase.revealText());
  } else {
    if (seal.recipients.length === 0) throw new CofferError("USAGE", "a bundle needs at least one --recipient, or --passphrase");
    for (const r of seal.recipients) e.addRecipient(r);
  }
  const doc = {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    manifest: { owner: b.owner, createdAt: b.createdAt, prefix: b.prefix, count: b.entries.length, keys: b.entries.map((x) => x.key) },
    entries: b.entries.map((x) => {
      const bytes = x.value.reveal();
      const value = Buffer.from(bytes).toString("base64");
      bytes.fill(0);
      return { key: x.key, value, meta: x.meta, version: x.version };
    }),
  };
  const plain = new TextEncoder().encode(JSON.stringify(doc));
  try {
    return armor.encode(await e.encrypt(plain));
  } finally {
    plain.fill(0);
  }
}

/**
 * Opens a bundle (armored or binary) with identities and/or a passphrase and checks its
 * structure: format and version, and a manifest that agrees with the entries.
 * @throws CofferError DECRYPT_FAILED (nothing given opens it, or a tag failed), CIPHERTEXT_MALFORMED, INVALID_INPUT.
 */
export async function openBundle(bytes: Uint8Array, keys: BundleKeys): Promise<OpenedBundle> {
  const bin = binaryOf(bytes);
  const d = new Decrypter();
  for (const i of keys.identities) d.addIdentity(i);
  if (keys.passphrase !== null) d.addPassphrase(keys.passphrase.revealText());
  if (keys.identities.length === 0 && keys.passphrase === null)
    throw new CofferError("KEY_NOT_FOUND", "bundle: give an age identity (--identity, SOPS_AGE_KEY_FILE) or the passphrase to open it");
  let plain: Uint8Array;
  try {
    plain = await d.decrypt(bin);
  } catch (e) {
    const msg = e instanceof Error ? e.message : "";
    if (/no identity matched|incorrect passphrase|failed to decrypt|invalid|mac/i.test(msg))
      throw new CofferError("DECRYPT_FAILED", "bundle: none of the identities or passphrases given opens it, or it was changed");
    throw new CofferError("CIPHERTEXT_MALFORMED", "bundle: not a well-formed age file");
  }
  try {
    return parseDocument(plain);
  } finally {
    plain.fill(0);
  }
}

function parseDocument(plain: Uint8Array): OpenedBundle {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain));
  } catch {
    throw new CofferError("INVALID_INPUT", "bundle: the decrypted content is not a Coffer bundle (not JSON)", { field: "bundle" });
  }
  const r = z.safeParse(Document, json);
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue === undefined ? "" : issue.path.map(String).join(".");
    throw new CofferError("INVALID_INPUT", `bundle: ${path === "" ? "document" : path}: ${issue?.message ?? "invalid"}`, {
      field: "bundle",
    });
  }
  const doc = r.data;
  const names = doc.entries.map((e) => e.key);
  if (doc.manifest.count !== doc.entries.length || doc.manifest.keys.join("\u0000") !== names.join("\u0000"))
    throw new CofferError("INVALID_INPUT", "bundle: the manifest does not match the entries", { field: "bundle" });
  return {
    manifest: doc.manifest,
    entries: doc.entries.map((e) => ({
      key: e.key,
      value: Secret.adopt(Buffer.from(e.value, "base64")),
      meta: e.meta,
      version: e.version,
    })),
  };
}
