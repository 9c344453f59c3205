import { parse } from "yaml";
import * as z from "zod/mini";
import { CofferError } from "../core/errors/index.ts";
import { checkRecipient } from "./data-key.ts";
import { azureRef, checkKeyRef, kmsRef, vaultRef } from "./master-keys.ts";
import { keyId, sameKey, type KeyRef } from "./metadata.ts";

/**
 * The declarative recipients policy (`coffer.policy.yaml`, seed 002): groups (dev, staging,
 * prod…) each with named `admins` (every secret of the group by default) and `targets` (opt-in
 * per secret, or `"*"`), and per-secret selections. Pure: text in, computed recipients and
 * `.sops.yaml` text out. A secret's file is `file:` if given, else `secrets/<group>/<secret>.yaml`,
 * relative to the policy file's directory.
 */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const NAME_RULE = "must be 1-128 letters, digits, '_', '.', '-'";
const KEY_REFS = ["age", "kms", "gcp_kms", "azure_kv", "hc_vault_transit", "pgp"] as const;
export type KeyRefKind = (typeof KEY_REFS)[number];
/** Seed 002's spellings, accepted as aliases: `key:` for an age recipient, `azureKeyvault:` (and sops's `azure_keyvault:`). */
const ALIASES: Readonly<Record<string, KeyRefKind>> = { key: "age", azureKeyvault: "azure_kv", azure_keyvault: "azure_kv" };

const Name = z.string().check(z.regex(NAME, NAME_RULE));
const RecipientInput = z.strictObject({
  name: Name,
  age: z.optional(z.string()),
  key: z.optional(z.string()),
  kms: z.optional(z.string()),
  /** With `kms`: an IAM role to assume, the encryption context, an AWS profile (sops's stanza fields). */
  role: z.optional(z.string()),
  context: z.optional(z.record(z.string(), z.string())),
  aws_profile: z.optional(z.string()),
  gcp_kms: z.optional(z.string()),
  azure_kv: z.optional(z.string()),
  azureKeyvault: z.optional(z.string()),
  azure_keyvault: z.optional(z.string()),
  hc_vault_transit: z.optional(z.string()),
  pgp: z.optional(z.string()),
});
const Selection = z.union([z.literal("*"), z.array(z.string())]);
const SecretInput = z.strictObject({
  admins: z.optional(Selection),
  targets: z.optional(Selection),
  file: z.optional(z.string().check(z.minLength(1, "must not be empty"))),
});
const GroupInput = z.strictObject({
  recipients: z.strictObject({ admins: z._default(z.array(RecipientInput), []), targets: z._default(z.array(RecipientInput), []) }),
  secrets: z._default(z.record(Name, z.nullable(SecretInput)), {}),
});
const PolicyInput = z.strictObject({ version: z.optional(z.literal(1)), groups: z.record(Name, GroupInput) });

export type PolicyRecipient = {
  readonly name: string;
  readonly role: "admin" | "target";
  readonly kind: KeyRefKind;
  readonly key: string;
  /** The master key the recipient names, as file stanzas are compared and wrapped. */
  readonly ref: KeyRef;
};
export type PolicySecret = {
  readonly group: string;
  readonly name: string;
  readonly file: string;
  readonly recipients: readonly PolicyRecipient[];
};
export type Policy = {
  readonly source: string;
  readonly groups: ReadonlyMap<string, { readonly admins: readonly PolicyRecipient[]; readonly targets: readonly PolicyRecipient[] }>;
  readonly secrets: readonly PolicySecret[];
};

const invalid = (source: string, field: string, rule: string): CofferError =>
  new CofferError("INVALID_INPUT", `${source}: ${field}: ${rule}`, { field, source });

function toRecipient(source: string, field: string, r: z.infer<typeof RecipientInput>, role: "admin" | "target"): PolicyRecipient {
  const spelled = (Object.keys(r) as (keyof typeof r)[]).filter((k) => k in ALIASES || (KEY_REFS as readonly string[]).includes(k));
  const kind = spelled.length === 1 ? (ALIASES[spelled[0] ?? ""] ?? (spelled[0] as KeyRefKind)) : undefined;
  if (kind === undefined)
    throw invalid(source, field, `recipient '${r.name}': give exactly one key: ${KEY_REFS.join(", ")} (or key, azureKeyvault)`);
  const keyField = spelled[0] ?? kind;
  const raw = r[keyField];
  const key = (typeof raw === "string" ? raw : "").trim();
  if (kind !== "kms" && (r.role !== undefined || r.context !== undefined || r.aws_profile !== undefined))
    throw invalid(
      source,
      `${field}.${kind === "age" ? keyField : kind}`,
      `recipient '${r.name}': role, context and aws_profile go with kms only`,
    );
  const at = `${field}.${keyField}`;
  if (key === "") throw invalid(source, at, `recipient '${r.name}': must not be empty`);
  let ref: KeyRef;
  try {
    switch (kind) {
      case "age":
        ref = { type: "age", recipient: checkRecipient(key, at) };
        break;
      case "kms": {
        const k = kmsRef(key, r.context === undefined || Object.keys(r.context).length === 0 ? null : r.context, r.aws_profile ?? "");
        ref = checkKeyRef(k.type === "kms" && r.role !== undefined ? { ...k, role: r.role.trim() } : k, at);
        break;
      }
      case "gcp_kms":
        ref = checkKeyRef({ type: "gcp_kms", resourceId: key }, at);
        break;
      case "azure_kv":
        ref = checkKeyRef(azureRef(key), at);
        break;
      case "hc_vault_transit":
        ref = checkKeyRef(vaultRef(key), at);
        break;
      case "pgp":
        ref = checkKeyRef({ type: "pgp", fingerprint: key.replace(/\s+/g, "") }, at);
        break;
    }
  } catch (e) {
    throw invalid(source, at, `recipient '${r.name}': ${e instanceof Error ? e.message.replace(/^[^:]*: /, "") : "invalid"}`);
  }
  return { name: r.name, role, kind, key, ref };
}

function select(
  source: string,
  field: string,
  sel: "*" | readonly string[] | undefined,
  pool: readonly PolicyRecipient[],
  all: boolean,
): PolicyRecipient[] {
  if (sel === undefined) return all ? [...pool] : [];
  if (sel === "*") return [...pool];
  if (sel.length === 1 && sel[0] === "*") return [...pool];
  const valid = pool.map((r) => r.name);
  return sel.map((name, i) => {
    const found = pool.find((r) => r.name === name);
    if (found === undefined)
      throw invalid(
        source,
        `${field}.${String(i)}`,
        `unknown name '${name}'; valid names: ${valid.length === 0 ? "(none defined)" : valid.join(", ")}`,
      );
    return found;
  });
}

/** @throws CofferError INVALID_INPUT naming the field (e.g. `groups.prod.secrets.apiKey.targets.0`) and the rule. */
export function parsePolicy(text: string, source: string): Policy {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    const line = (e as { linePos?: [{ line: number }] }).linePos?.[0].line;
    throw invalid(source, line === undefined ? "yaml" : `line ${String(line)}`, "not valid YAML");
  }
  const r = PolicyInput.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw invalid(source, issue?.path.map(String).join(".") || "(top level)", issue?.message ?? "is invalid");
  }
  const groups = new Map<string, { admins: PolicyRecipient[]; targets: PolicyRecipient[] }>();
  const secrets: PolicySecret[] = [];
  for (const [g, group] of Object.entries(r.data.groups)) {
    const admins = group.recipients.admins.map((x, i) => toRecipient(source, `groups.${g}.recipients.admins.${String(i)}`, x, "admin"));
    const targets = group.recipients.targets.map((x, i) => toRecipient(source, `groups.${g}.recipients.targets.${String(i)}`, x, "target"));
    const seen = new Set<string>();
    for (const x of [...admins, ...targets]) {
      if (seen.has(x.name)) throw invalid(source, `groups.${g}.recipients`, `the name '${x.name}' is defined twice`);
      seen.add(x.name);
    }
    groups.set(g, { admins, targets });
    for (const [name, s] of Object.entries(group.secrets)) {
      const field = `groups.${g}.secrets.${name}`;
      const chosen = [
        ...select(source, `${field}.admins`, s?.admins, admins, true),
        ...select(source, `${field}.targets`, s?.targets, targets, false),
      ];
      const file = s?.file ?? `secrets/${g}/${name}.yaml`;
      if (file.startsWith("/") || file.split("/").includes(".."))
        throw invalid(source, `${field}.file`, "must be a relative path inside the policy's directory");
      secrets.push({
        group: g,
        name,
        file,
        recipients: chosen.filter((x, i) => chosen.findIndex((y) => sameKey(y.ref, x.ref)) === i),
      });
    }
  }
  const files = new Set<string>();
  for (const s of secrets) {
    if (files.has(s.file))
      throw invalid(source, `groups.${s.group}.secrets.${s.name}.file`, `the file ${s.file} is used by another secret`);
    files.add(s.file);
  }
  return { source, groups, secrets };
}

/** @throws CofferError NOT_FOUND naming the valid groups or secrets. */
export function findSecret(policy: Policy, group: string, secret: string): PolicySecret {
  if (!policy.groups.has(group))
    throw new CofferError(
      "NOT_FOUND",
      `group '${group}' is not in the policy; groups: ${[...policy.groups.keys()].join(", ") || "(none)"}`,
      { group },
    );
  const found = policy.secrets.find((s) => s.group === group && s.name === secret);
  if (found === undefined) {
    const names = policy.secrets.filter((s) => s.group === group).map((s) => s.name);
    throw new CofferError("NOT_FOUND", `secret '${secret}' is not in group '${group}'; secrets: ${names.join(", ") || "(none)"}`, {
      group,
      secret,
    });
  }
  return found;
}

export type PolicyFinding = { readonly level: "warning"; readonly where: string; readonly message: string };

/** Unused recipients, secrets nobody can read, and secrets only pgp keys (which Coffer cannot wrap for) read. */
export function checkPolicy(policy: Policy): PolicyFinding[] {
  const out: PolicyFinding[] = [];
  for (const [g, group] of policy.groups) {
    const secrets = policy.secrets.filter((s) => s.group === g);
    for (const r of [...group.admins, ...group.targets]) {
      if (!secrets.some((s) => s.recipients.some((x) => x.name === r.name)))
        out.push({
          level: "warning",
          where: `groups.${g}.recipients.${r.role}s.${r.name}`,
          message: `recipient '${r.name}' reads no secret`,
        });
    }
    for (const s of secrets) {
      const where = `groups.${g}.secrets.${s.name}`;
      if (s.recipients.length === 0) out.push({ level: "warning", where, message: "readable by nobody (no admin and no target selected)" });
      else if (s.recipients.every((x) => x.kind === "pgp"))
        out.push({ level: "warning", where, message: "only pgp recipients: Coffer keeps pgp stanzas but cannot wrap a data key for them" });
    }
  }
  return out;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `.sops.yaml` text: one creation rule per secret file, paths relative to the policy's directory. */
export function sopsConfigText(policy: Policy): string {
  const lines = [`# Generated by \`coffer policy sops-config\` from ${policy.source}; edit the policy, not this file.`, "creation_rules:"];
  const q = (v: string): string => JSON.stringify(v);
  for (const s of policy.secrets) {
    lines.push(`  # ${s.group}/${s.name}: ${s.recipients.map((r) => `${r.name} (${r.role})`).join(", ") || "nobody"}`);
    lines.push(`  - path_regex: ^${escapeRegex(s.file)}$`);
    const refs = s.recipients.map((r) => r.ref);
    const kms = refs.filter((r) => r.type === "kms");
    // A KMS context or profile has no place in a rule's `kms:` string: sops reads those from key_groups only.
    const rich = kms.some((k) => k.context !== null || k.awsProfile !== "");
    const ind = rich ? "        " : "    ";
    if (rich) lines.push("    key_groups:", "      - kms:");
    else if (kms.length > 0) lines.push(`    kms: ${q(kms.map(keyId).join(","))}`);
    if (rich)
      for (const k of kms) {
        lines.push(`          - arn: ${q(k.arn)}`);
        if (k.role !== "") lines.push(`            role: ${q(k.role)}`);
        if (k.awsProfile !== "") lines.push(`            aws_profile: ${q(k.awsProfile)}`);
        if (k.context !== null) {
          lines.push("            context:");
          for (const [ck, cv] of Object.entries(k.context)) lines.push(`              ${q(ck)}: ${q(cv)}`);
        }
      }
    const gcp = refs.filter((r) => r.type === "gcp_kms");
    const az = refs.filter((r) => r.type === "azure_kv");
    const hv = refs.filter((r) => r.type === "hc_vault");
    const pgp = refs.filter((r) => r.type === "pgp");
    const age = refs.filter((r) => r.type === "age");
    if (rich) {
      if (gcp.length > 0) lines.push(`${ind}gcp_kms:`, ...gcp.map((r) => `${ind}  - resource_id: ${q(r.resourceId)}`));
      if (az.length > 0)
        lines.push(
          `${ind}azure_keyvault:`,
          ...az.flatMap((r) => [
            `${ind}  - vaultUrl: ${q(r.vaultUrl)}`,
            `${ind}    key: ${q(r.name)}`,
            `${ind}    version: ${q(r.version)}`,
          ]),
        );
      if (hv.length > 0) lines.push(`${ind}hc_vault:`, ...hv.map((r) => `${ind}  - ${q(keyId(r))}`));
      if (pgp.length > 0) lines.push(`${ind}pgp:`, ...pgp.map((r) => `${ind}  - ${q(r.fingerprint)}`));
      if (age.length > 0) lines.push(`${ind}age:`, ...age.map((r) => `${ind}  - ${r.recipient}`));
      continue;
    }
    if (gcp.length > 0) lines.push(`    gcp_kms: ${q(gcp.map(keyId).join(","))}`);
    if (az.length > 0) lines.push(`    azure_keyvault: ${q(az.map(keyId).join(","))}`);
    if (hv.length > 0) lines.push(`    hc_vault_transit_uri: ${q(hv.map(keyId).join(","))}`);
    if (pgp.length > 0) lines.push(`    pgp: ${q(pgp.map(keyId).join(","))}`);
    if (age.length > 0) lines.push("    age:", ...age.map((r) => `      - ${r.recipient}`));
  }
  return `${lines.join("\n")}\n`;
}
