import { CofferError } from "../core/errors/index.ts";

/**
 * The `sops` metadata (FORMAT.md §7, §8) as Coffer models it, and its mapping to and from the
 * plain data every store writes. Every master-key stanza sops writes is read into a typed entry
 * with sops's exact fields (stores/stores.go in sops 3.13): age, AWS KMS, GCP KMS, Azure Key
 * Vault and Vault Transit are wrapped and unwrapped by Coffer (master-keys.ts); pgp and Huawei
 * `hckms` stanzas are carried through verbatim while the data key stays the same.
 */
export const RULE_KINDS = ["unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex"] as const;
export type EncryptionRule = { readonly kind: (typeof RULE_KINDS)[number]; readonly value: string };
export const DEFAULT_RULE: EncryptionRule = { kind: "unencrypted_suffix", value: "_unencrypted" };

/** A master key a data key is (or is to be) wrapped for, without its wrapped data key. */
export type KeyRef =
  | { readonly type: "age"; readonly recipient: string }
  | {
      readonly type: "kms";
      readonly arn: string;
      /** An IAM role ARN assumed (STS AssumeRole) before calling KMS; "" for none. */
      readonly role: string;
      /** The KMS encryption context; `null` for none. */
      readonly context: Readonly<Record<string, string>> | null;
      readonly awsProfile: string;
    }
  | { readonly type: "gcp_kms"; readonly resourceId: string }
  | { readonly type: "azure_kv"; readonly vaultUrl: string; readonly name: string; readonly version: string }
  | { readonly type: "hc_vault"; readonly address: string; readonly enginePath: string; readonly keyName: string }
  | { readonly type: "pgp"; readonly fingerprint: string }
  | { readonly type: "hckms"; readonly keyId: string };
export type KeyType = KeyRef["type"];

/** A stanza of the file: the key, its wrapped data key (or share), and when it was wrapped. */
export type MasterKey = KeyRef & { readonly enc: string; readonly createdAt: string };

export type KeyGroup = { readonly keys: readonly MasterKey[] };

/** One string naming a master key, as sops prints it and as Coffer's messages and diffs use it. */
export function keyId(k: KeyRef): string {
  switch (k.type) {
    case "age":
      return k.recipient;
    case "kms":
      return k.role === "" ? k.arn : `${k.arn}+${k.role}`;
    case "gcp_kms":
      return k.resourceId;
    case "azure_kv":
      return `${k.vaultUrl}/keys/${k.name}${k.version === "" ? "" : `/${k.version}`}`;
    case "hc_vault":
      return `${k.address}/v1/${k.enginePath}/keys/${k.keyName}`;
    case "pgp":
      return k.fingerprint;
    case "hckms":
      return k.keyId;
  }
}

/** `keyId` with the type, for messages: `kms arn:aws:kms:…` (an age recipient, `age1…`, names itself). */
export function keyLabel(k: KeyRef): string {
  return k.type === "age" ? k.recipient : `${k.type} ${keyId(k)}`;
}

/** Whether two refs name the same master key (context and profile included for KMS, as sops compares). */
export function sameKey(a: KeyRef, b: KeyRef): boolean {
  // An Azure key named without a version (a rule's URL) is the key the stanza recorded with its version.
  if (a.type === "azure_kv" && b.type === "azure_kv")
    return a.vaultUrl === b.vaultUrl && a.name === b.name && (a.version === b.version || a.version === "" || b.version === "");
  if (a.type !== b.type || keyId(a) !== keyId(b)) return false;
  if (a.type === "kms" && b.type === "kms") return contextText(a.context) === contextText(b.context) && a.awsProfile === b.awsProfile;
  return true;
}

function contextText(c: Readonly<Record<string, string>> | null): string {
  return c === null ? "" : JSON.stringify(Object.entries(c).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/** The ref part of a stanza. */
export function refOf(k: MasterKey): KeyRef {
  const ref: Record<string, unknown> = { ...k };
  delete ref["enc"];
  delete ref["createdAt"];
  return ref as KeyRef;
}

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
export const COMMENT_RULES = ["unencrypted_comment_regex", "encrypted_comment_regex"] as const;

const bad = (field: string, rule: string): CofferError =>
  new CofferError("CIPHERTEXT_MALFORMED", `sops.${field}: ${rule}`, { field: `sops.${field}` });

function asString(v: unknown, field: string): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  throw bad(field, "must be a string");
}

function optString(v: unknown, field: string): string {
  return v === undefined || v === null ? "" : asString(v, field);
}

function listOf(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [];
}

/** The stanza lists in the order sops reads them into a key group (stores.go internalGroupFrom): it tries them in this order. */
const STANZAS = ["kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp", "age"] as const;

function parseStanza(type: (typeof STANZAS)[number], e: unknown, field: string): MasterKey {
  if (typeof e !== "object" || e === null || Array.isArray(e)) throw bad(field, "must be a map");
  const r = e as Record<string, unknown>;
  const s = (name: string): string => optString(r[name], `${field}.${name}`);
  const need = (name: string): string => {
    const v = s(name);
    if (v === "") throw bad(`${field}.${name}`, "must not be empty");
    return v;
  };
  const enc = s("enc");
  const createdAt = s("created_at");
  switch (type) {
    case "age":
      return { type, recipient: need("recipient"), enc, createdAt: "" };
    case "kms": {
      const ctx = r["context"];
      let context: Record<string, string> | null = null;
      if (ctx !== undefined && ctx !== null) {
        if (typeof ctx !== "object" || Array.isArray(ctx)) throw bad(`${field}.context`, "must be a map of strings");
        context = {};
        for (const [k, v] of Object.entries(ctx as Record<string, unknown>)) context[k] = asString(v, `${field}.context.${k}`);
      }
      return { type, arn: need("arn"), role: s("role"), context, awsProfile: s("aws_profile"), enc, createdAt };
    }
    case "gcp_kms":
      return { type, resourceId: need("resource_id"), enc, createdAt };
    case "azure_kv":
      return { type, vaultUrl: need("vault_url"), name: need("name"), version: s("version"), enc, createdAt };
    case "hc_vault":
      return { type, address: need("vault_address"), enginePath: need("engine_path"), keyName: need("key_name"), enc, createdAt };
    case "pgp":
      return { type, fingerprint: need("fp"), enc, createdAt };
    case "hckms":
      return { type, keyId: need("key_id"), enc, createdAt };
  }
}

function parseGroup(raw: Readonly<Record<string, unknown>>, field: string): KeyGroup {
  const keys: MasterKey[] = [];
  for (const t of STANZAS) listOf(raw[t]).forEach((e, i) => keys.push(parseStanza(t, e, `${field}${t}.${String(i)}`)));
  return { keys };
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
  const groups =
    top.keys.length > 0
      ? [top]
      : listOf(raw["key_groups"]).map((g, i) => {
          if (typeof g !== "object" || g === null) throw bad(`key_groups.${String(i)}`, "must be a map");
          return parseGroup(g as Record<string, unknown>, `key_groups.${String(i)}.`);
        });
  if (groups.length === 0 || groups.every((g) => g.keys.length === 0)) throw bad("age", "the file lists no master keys");
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

/** A stanza as sops writes it (its struct's fields; empty `role` and `context` omitted, `aws_profile` always). */
function stanzaToRaw(k: MasterKey): Record<string, unknown> {
  switch (k.type) {
    case "age":
      return { recipient: k.recipient, enc: k.enc };
    case "kms":
      return {
        arn: k.arn,
        ...(k.role === "" ? {} : { role: k.role }),
        ...(k.context === null || Object.keys(k.context).length === 0 ? {} : { context: { ...k.context } }),
        created_at: k.createdAt,
        enc: k.enc,
        aws_profile: k.awsProfile,
      };
    case "gcp_kms":
      return { resource_id: k.resourceId, created_at: k.createdAt, enc: k.enc };
    case "azure_kv":
      return { vault_url: k.vaultUrl, name: k.name, version: k.version, created_at: k.createdAt, enc: k.enc };
    case "hc_vault":
      return { vault_address: k.address, engine_path: k.enginePath, key_name: k.keyName, created_at: k.createdAt, enc: k.enc };
    case "pgp":
      return { created_at: k.createdAt, enc: k.enc, fp: k.fingerprint };
    case "hckms":
      return { key_id: k.keyId, created_at: k.createdAt, enc: k.enc };
  }
}

/** One group's stanza lists; inside `key_groups` sops always writes `age` and `hc_vault` (no omitempty), even empty. */
function groupToRaw(g: KeyGroup, inKeyGroups: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const t of STANZAS) {
    const list = g.keys.filter((k) => k.type === t).map(stanzaToRaw);
    if (list.length > 0 || (inKeyGroups && (t === "age" || t === "hc_vault"))) out[t] = list;
  }
  return out;
}

/** Maps with keys in name order at every depth, as sops ≥ 3.13 writes its metadata. */
function sortDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortDeep);
  if (typeof v !== "object" || v === null) return v;
  const o = v as Record<string, unknown>;
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) sorted[k] = sortDeep(o[k]);
  return sorted;
}

/** Plain data with keys in name order, as sops ≥ 3.13 writes them. */
export function metadataToRaw(m: Metadata): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const only = m.keyGroups.length === 1 ? m.keyGroups[0] : undefined;
  if (only !== undefined) Object.assign(out, groupToRaw(only, false));
  else out["key_groups"] = m.keyGroups.map((g) => groupToRaw(g, true));
  out["lastmodified"] = m.lastmodified;
  out["mac"] = m.mac;
  if (m.macOnlyEncrypted) out["mac_only_encrypted"] = true;
  if (m.keyGroups.length > 1 && m.shamirThreshold !== 0) out["shamir_threshold"] = m.shamirThreshold;
  // sops refuses a file that names a key rule and a comment rule together.
  if (m.commentRule !== undefined) out[m.commentRule.kind] = m.commentRule.value;
  else out[m.rule.kind] = m.rule.value;
  out["version"] = m.version;
  return sortDeep(out) as Record<string, unknown>;
}

/** `lastmodified` as Go's RFC 3339 in UTC, whole seconds (the MAC's AAD). */
export function formatLastModified(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Every master key of the file, in order. */
export function recipientsOf(m: Metadata): readonly KeyRef[] {
  return m.keyGroups.flatMap((g) => g.keys.map(refOf));
}
