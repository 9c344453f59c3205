import { parse } from "yaml";
import * as z from "zod/mini";
import { CofferError } from "../core/errors/index.ts";
import { checkRecipient } from "./data-key.ts";

/**
 * The declarative recipients policy (`coffer.policy.yaml`, seed 002): groups (dev, staging,
 * prod…) each with named `admins` (every secret of the group by default) and `targets` (opt-in
 * per secret, or `"*"`), and per-secret selections. Pure: text in, computed recipients and
 * `.sops.yaml` text out. A secret's file is `file:` if given, else `secrets/<group>/<secret>.yaml`,
 * relative to the policy file's directory.
 */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const NAME_RULE = "must be 1-128 letters, digits, '_', '.', '-'";
const KEY_REFS = ["age", "kms", "gcp_kms", "azure_kv", "hc_vault_transit"] as const;
export type KeyRefKind = (typeof KEY_REFS)[number];

const Name = z.string().check(z.regex(NAME, NAME_RULE));
const RecipientInput = z.strictObject({
  name: Name,
  age: z.optional(z.string()),
  kms: z.optional(z.string()),
  gcp_kms: z.optional(z.string()),
  azure_kv: z.optional(z.string()),
  hc_vault_transit: z.optional(z.string()),
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

export type PolicyRecipient = { readonly name: string; readonly role: "admin" | "target"; readonly kind: KeyRefKind; readonly key: string };
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
  const refs = KEY_REFS.filter((k) => r[k] !== undefined);
  const kind = refs[0];
  if (kind === undefined || refs.length > 1) throw invalid(source, field, `give exactly one key: ${KEY_REFS.join(", ")}`);
  const key = (r[kind] ?? "").trim();
  if (kind === "age") {
    try {
      checkRecipient(key, `${field}.age`);
    } catch (e) {
      throw invalid(source, `${field}.age`, e instanceof Error ? e.message.replace(/^[^:]*: /, "") : "not an age recipient");
    }
  } else if (key === "") throw invalid(source, `${field}.${kind}`, "must not be empty");
  return { name: r.name, role, kind, key };
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
      secrets.push({ group: g, name, file, recipients: chosen.filter((x, i) => chosen.findIndex((y) => y.key === x.key) === i) });
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

/** Unused recipients and secrets nobody (or no age recipient) can read. */
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
      else if (!s.recipients.some((x) => x.kind === "age"))
        out.push({ level: "warning", where, message: "no age recipient: Coffer cannot encrypt or rewrap it (sops with the KMS keys can)" });
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
  for (const s of policy.secrets) {
    lines.push(`  # ${s.group}/${s.name}: ${s.recipients.map((r) => `${r.name} (${r.role})`).join(", ") || "nobody"}`);
    lines.push(`  - path_regex: ^${escapeRegex(s.file)}$`);
    for (const kind of KEY_REFS) {
      const keys = s.recipients.filter((r) => r.kind === kind).map((r) => r.key);
      if (keys.length === 0) continue;
      const field = kind === "hc_vault_transit" ? "hc_vault_transit_uri" : kind === "azure_kv" ? "azure_keyvault" : kind;
      if (kind === "age") lines.push("    age:", ...keys.map((k) => `      - ${k}`));
      else lines.push(`    ${field}: ${JSON.stringify(keys.join(","))}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
