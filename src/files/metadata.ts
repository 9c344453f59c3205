import { CofferError } from "../core/errors/index.ts";

/**
 * The `sops` metadata (FORMAT.md §7, §8) as Coffer models it, and its mapping to and from the
 * plain data every store writes. Only age master keys are read or written; other key types
 * (pgp, kms, …) are carried through unchanged while the data key stays the same, and dropped
 * (with a notice) when it is rewrapped or rotated.
 */
export const RULE_KINDS = ["unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex"] as const;
export type EncryptionRule = { readonly kind: (typeof RULE_KINDS)[number]; readonly value: string };
export const DEFAULT_RULE: EncryptionRule = { kind: "unencrypted_suffix", value: "_unencrypted" };

export type AgeEntry = { readonly recipient: string; readonly enc: string };
export type KeyGroup = {
  readonly age: readonly AgeEntry[];
  /** Master keys of other types (pgp, kms, …), kept verbatim. */
  readonly others: Readonly<Record<string, unknown>>;
};

export type Metadata = {
  readonly keyGroups: readonly KeyGroup[];
  /** 0 means "all groups" (sops). */
  readonly shamirThreshold: number;
  readonly lastmodified: string;
  readonly mac: string;
  readonly rule: EncryptionRule;
  readonly macOnlyEncrypted: boolean;
  readonly version: string;
  /** sops's `encrypted_comment_regex` / `unencrypted_comment_regex`: which comments are encrypted. */
  readonly commentRule?: { readonly kind: (typeof COMMENT_RULES)[number]; readonly value: string } | undefined;
};

/** The sops format version Coffer's output follows (written as `version`). */
export const SOPS_FORMAT_VERSION = "3.13.2";
const OTHER_KEY_TYPES = ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"] as const;
export const COMMENT_RULES = ["unencrypted_comment_regex", "encrypted_comment_regex"] as const;

const bad = (field: string, rule: string): CofferError =>
  new CofferError("CIPHERTEXT_MALFORMED", `sops.${field}: ${rule}`, { field: `sops.${field}` });

function asString(v: unknown, field: string): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw bad(field, "must be a string");
}

function listOf(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [];
}

function parseGroup(raw: Readonly<Record<string, unknown>>, field: string): KeyGroup {
  const age = listOf(raw["age"]).map((e, i) => {
    if (typeof e !== "object" || e === null) throw bad(`${field}age.${String(i)}`, "must be a map of recipient and enc");
    const r = e as Record<string, unknown>;
    return {
      recipient: asString(r["recipient"], `${field}age.${String(i)}.recipient`),
      enc: asString(r["enc"], `${field}age.${String(i)}.enc`),
    };
  });
  const others: Record<string, unknown> = {};
  for (const t of OTHER_KEY_TYPES) if (listOf(raw[t]).length > 0) others[t] = raw[t];
  return { age, others };
}

function weakBool(v: unknown): boolean {
  return v === true || v === "true" || v === "True";
}

/** @throws CofferError CIPHERTEXT_MALFORMED naming the metadata field. */
export function parseMetadata(raw: Readonly<Record<string, unknown>>): Metadata {
  const rules = RULE_KINDS.filter((k) => raw[k] !== undefined && raw[k] !== null && raw[k] !== "");
  if (rules.length > 1) throw bad(rules.join(", "), "at most one of these may be set");
  const commentRules = COMMENT_RULES.filter((k) => raw[k] !== undefined && raw[k] !== null && raw[k] !== "");
  if (commentRules.length > 1) throw bad(commentRules.join(", "), "at most one of these may be set");
  const ck = commentRules[0];
  const kind = rules[0];
  const rule = kind === undefined ? DEFAULT_RULE : { kind, value: asString(raw[kind], kind) };
  const top = parseGroup(raw, "");
  const hasTop = top.age.length > 0 || Object.keys(top.others).length > 0;
  const groups = hasTop
    ? [top]
    : listOf(raw["key_groups"]).map((g, i) => {
        if (typeof g !== "object" || g === null) throw bad(`key_groups.${String(i)}`, "must be a map");
        return parseGroup(g as Record<string, unknown>, `key_groups.${String(i)}.`);
      });
  if (groups.length === 0) throw bad("age", "the file lists no master keys");
  const threshold = raw["shamir_threshold"] === undefined || raw["shamir_threshold"] === null ? 0 : Number(raw["shamir_threshold"]);
  if (!Number.isInteger(threshold) || threshold < 0) throw bad("shamir_threshold", "must be a whole number");
  return {
    keyGroups: groups,
    shamirThreshold: threshold,
    lastmodified: asString(raw["lastmodified"], "lastmodified"),
    mac: asString(raw["mac"] ?? "", "mac"),
    rule,
    macOnlyEncrypted: weakBool(raw["mac_only_encrypted"]),
    version: raw["version"] === undefined ? "" : asString(raw["version"], "version"),
    commentRule: ck === undefined ? undefined : { kind: ck, value: asString(raw[ck], ck) },
  };
}

function groupToRaw(g: KeyGroup): Record<string, unknown> {
  return { ...(g.age.length > 0 ? { age: g.age.map((e) => ({ recipient: e.recipient, enc: e.enc })) } : {}), ...g.others };
}

/** Plain data with keys in name order, as sops ≥ 3.13 writes them. */
export function metadataToRaw(m: Metadata): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const only = m.keyGroups.length === 1 ? m.keyGroups[0] : undefined;
  if (only !== undefined) Object.assign(out, groupToRaw(only));
  else out["key_groups"] = m.keyGroups.map(groupToRaw);
  out["lastmodified"] = m.lastmodified;
  out["mac"] = m.mac;
  if (m.macOnlyEncrypted) out["mac_only_encrypted"] = true;
  if (m.keyGroups.length > 1 && m.shamirThreshold !== 0) out["shamir_threshold"] = m.shamirThreshold;
  // sops refuses a file that names a key rule and a comment rule together.
  if (m.commentRule !== undefined) out[m.commentRule.kind] = m.commentRule.value;
  else out[m.rule.kind] = m.rule.value;
  out["version"] = m.version;
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(out).sort()) sorted[k] = out[k];
  return sorted;
}

/** `lastmodified` as Go's RFC 3339 in UTC, whole seconds (the MAC's AAD). */
export function formatLastModified(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** All age recipients of the file, in order. */
export function recipientsOf(m: Metadata): readonly string[] {
  return m.keyGroups.flatMap((g) => g.age.map((e) => e.recipient));
}
