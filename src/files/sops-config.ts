import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { parse } from "yaml";
import { CofferError } from "../core/errors/index.ts";
import { checkRecipient } from "./data-key.ts";
import { azureRef, checkKeyRef, kmsRef, vaultRef } from "./master-keys.ts";
import { COMMENT_RULES, RULE_KINDS, type EncryptionRule, type KeyRef, type Metadata } from "./metadata.ts";
import { goRegex } from "./walk.ts";

/**
 * `.sops.yaml` (FORMAT.md §10): found by walking up from the working directory (at most 100
 * parents) unless `--config`/`SOPS_CONFIG` names it; `creation_rules` are tried in order, the
 * first whose `path_regex` (unanchored; empty matches all) matches the file's path relative to
 * the config's directory wins. Only age keys are used; other key types in a rule are ignored.
 */
export type CreationRule = {
  readonly pathRegex: string;
  /** One or more key groups of master keys (several → Shamir). */
  readonly groups: readonly (readonly KeyRef[])[];
  readonly shamirThreshold: number;
  readonly rule: EncryptionRule | null;
  readonly commentRule: Metadata["commentRule"];
  readonly macOnlyEncrypted: boolean;
};

export type SopsConfig = {
  readonly path: string;
  readonly rules: readonly CreationRule[];
  readonly yamlIndent: number | null;
  readonly jsonIndent: number | null;
};

export type FileSystem = { readonly readText: (path: string) => Promise<string | null> };

const invalid = (file: string, field: string, rule: string): CofferError =>
  new CofferError("CONFIG_INVALID", `${file}: ${field}: ${rule}`, { field, source: file });

/** A string (comma-separated) or a list of strings, as sops accepts for every key list of a rule. */
function stringList(v: unknown, file: string, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v !== "string" && !Array.isArray(v)) throw invalid(file, field, "must be a list or a comma-separated string");
  const items = typeof v === "string" ? v.split(",") : v.map((x) => (typeof x === "string" ? x : ""));
  return items.map((s) => s.trim()).filter((s) => s !== "");
}

function checked(ref: KeyRef, file: string, field: string): KeyRef {
  try {
    if (ref.type === "age") return { type: "age", recipient: checkRecipient(ref.recipient, field) };
    return checkKeyRef(ref, field);
  } catch (e) {
    throw invalid(file, field, e instanceof Error ? e.message.replace(/^[^:]*: /, "") : "invalid");
  }
}

function stringMap(v: unknown, file: string, field: string): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "object" || Array.isArray(v)) throw invalid(file, field, "must be a map of strings");
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== "string") throw invalid(file, `${field}.${k}`, "must be a string");
    out[k] = x;
  }
  return Object.keys(out).length === 0 ? null : out;
}

/** The top-level key lists of a creation rule (sops's `kms`, `age`, `pgp`, `gcp_kms`, `azure_keyvault`, `hc_vault_transit_uri`). */
function ruleKeys(r: Record<string, unknown>, file: string, f: string): KeyRef[] {
  const profile = typeof r["aws_profile"] === "string" ? r["aws_profile"] : "";
  const refs: [KeyRef, string][] = [
    ...stringList(r["kms"], file, `${f}.kms`).map((a, i): [KeyRef, string] => [kmsRef(a, null, profile), `${f}.kms.${String(i)}`]),
    ...stringList(r["gcp_kms"], file, `${f}.gcp_kms`).map((g, i): [KeyRef, string] => [
      { type: "gcp_kms", resourceId: g },
      `${f}.gcp_kms.${String(i)}`,
    ]),
    ...stringList(r["azure_keyvault"], file, `${f}.azure_keyvault`).map((u, i): [KeyRef, string] => [
      azureRef(u),
      `${f}.azure_keyvault.${String(i)}`,
    ]),
    ...stringList(r["hc_vault_transit_uri"], file, `${f}.hc_vault_transit_uri`).map((u, i): [KeyRef, string] => [
      vaultRef(u),
      `${f}.hc_vault_transit_uri.${String(i)}`,
    ]),
    ...stringList(r["pgp"], file, `${f}.pgp`).map((p, i): [KeyRef, string] => [{ type: "pgp", fingerprint: p }, `${f}.pgp.${String(i)}`]),
    ...stringList(r["age"], file, `${f}.age`).map((a, i): [KeyRef, string] => [{ type: "age", recipient: a }, `${f}.age.${String(i)}`]),
  ];
  return refs.map(([ref, field]) => checked(ref, file, field));
}

/** One entry of `key_groups` (sops's keyGroup: `kms` and `gcp_kms` and `azure_keyvault` as maps, the rest as strings). */
function groupKeys(g: unknown, file: string, f: string): KeyRef[] {
  if (typeof g !== "object" || g === null || Array.isArray(g)) throw invalid(file, f, "must be a map");
  const r = g as Record<string, unknown>;
  const maps = (name: string): Record<string, unknown>[] => {
    const v = r[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw invalid(file, `${f}.${name}`, "must be a list");
    return v.map((x, i) => {
      if (typeof x !== "object" || x === null) throw invalid(file, `${f}.${name}.${String(i)}`, "must be a map");
      return x as Record<string, unknown>;
    });
  };
  const str = (x: unknown): string => (typeof x === "string" ? x : "");
  const refs: [KeyRef, string][] = [
    ...maps("kms").map((k, i): [KeyRef, string] => [
      {
        type: "kms",
        arn: str(k["arn"]),
        role: str(k["role"]),
        context: stringMap(k["context"], file, `${f}.kms.${String(i)}.context`),
        awsProfile: str(k["aws_profile"]),
      },
      `${f}.kms.${String(i)}`,
    ]),
    ...maps("gcp_kms").map((k, i): [KeyRef, string] => [
      { type: "gcp_kms", resourceId: str(k["resource_id"]) },
      `${f}.gcp_kms.${String(i)}`,
    ]),
    ...maps("azure_keyvault").map((k, i): [KeyRef, string] => [
      { type: "azure_kv", vaultUrl: str(k["vaultUrl"]).replace(/\/+$/, ""), name: str(k["key"]), version: str(k["version"]) },
      `${f}.azure_keyvault.${String(i)}`,
    ]),
    ...stringList(r["hc_vault"], file, `${f}.hc_vault`).map((u, i): [KeyRef, string] => [vaultRef(u), `${f}.hc_vault.${String(i)}`]),
    ...stringList(r["pgp"], file, `${f}.pgp`).map((p, i): [KeyRef, string] => [{ type: "pgp", fingerprint: p }, `${f}.pgp.${String(i)}`]),
    ...stringList(r["age"], file, `${f}.age`).map((a, i): [KeyRef, string] => [{ type: "age", recipient: a }, `${f}.age.${String(i)}`]),
  ];
  return refs.map(([ref, field]) => checked(ref, file, field));
}

function parseRule(raw: unknown, i: number, file: string): CreationRule {
  const f = `creation_rules.${String(i)}`;
  if (typeof raw !== "object" || raw === null) throw invalid(file, f, "must be a map");
  const r = raw as Record<string, unknown>;
  const kinds = [...RULE_KINDS, ...COMMENT_RULES].filter((k) => typeof r[k] === "string" && r[k] !== "");
  if (kinds.length > 1) throw invalid(file, f, `at most one of ${kinds.join(", ")} may be set`);
  const kind = RULE_KINDS.find((k) => k === kinds[0]);
  const ckind = COMMENT_RULES.find((k) => k === kinds[0]);
  const groups = Array.isArray(r["key_groups"])
    ? (r["key_groups"] as unknown[]).map((g, j) => groupKeys(g, file, `${f}.key_groups.${String(j)}`))
    : [ruleKeys(r, file, f)];
  const pathRegex = typeof r["path_regex"] === "string" ? r["path_regex"] : "";
  goRegex(pathRegex);
  if (kind !== undefined) goRegexChecked(r[kind] as string, file, `${f}.${kind}`, kind.endsWith("regex"));
  if (ckind !== undefined) goRegexChecked(r[ckind] as string, file, `${f}.${ckind}`, true);
  return {
    pathRegex,
    groups: groups.filter((g) => g.length > 0),
    shamirThreshold: typeof r["shamir_threshold"] === "number" ? r["shamir_threshold"] : 0,
    rule: kind === undefined ? null : { kind, value: r[kind] as string },
    commentRule: ckind === undefined ? undefined : { kind: ckind, value: r[ckind] as string },
    macOnlyEncrypted: r["mac_only_encrypted"] === true,
  };
}

function goRegexChecked(value: string, file: string, field: string, isRegex: boolean): void {
  if (!isRegex) return;
  try {
    goRegex(value);
  } catch (e) {
    throw invalid(file, field, e instanceof Error ? e.message.replace(/^[^:]*: /, "") : "not a valid regular expression");
  }
}

function indentOf(stores: unknown, name: string): number | null {
  const v = (stores as Record<string, Record<string, unknown> | undefined> | null | undefined)?.[name]?.["indent"];
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : null;
}

export function parseSopsConfig(text: string, file: string): SopsConfig {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch {
    throw invalid(file, "yaml", "not valid YAML");
  }
  const doc = (raw ?? {}) as Record<string, unknown>;
  const rules = doc["creation_rules"] ?? [];
  if (!Array.isArray(rules)) throw invalid(file, "creation_rules", "must be a list");
  return {
    path: file,
    rules: rules.map((r, i) => parseRule(r, i, file)),
    yamlIndent: indentOf(doc["stores"], "yaml"),
    jsonIndent: indentOf(doc["stores"], "json"),
  };
}

/** The config in force: `explicit` (flag or SOPS_CONFIG), else the nearest `.sops.yaml` upward from `cwd`. */
export async function findSopsConfig(cwd: string, explicit: string | undefined, fs: FileSystem): Promise<SopsConfig | null> {
  if (explicit !== undefined) {
    const text = await fs.readText(explicit);
    if (text === null) throw new CofferError("CONFIG_INVALID", `${explicit}: config file not found`, { source: explicit });
    return parseSopsConfig(text, resolve(explicit));
  }
  let dir = resolve(cwd);
  for (let i = 0; i <= 100; i++) {
    const candidate = join(dir, ".sops.yaml");
    const text = await fs.readText(candidate);
    if (text !== null) return parseSopsConfig(text, candidate);
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

/** The first rule matching `filePath`, or `null`. */
export function matchRule(config: SopsConfig, filePath: string): CreationRule | null {
  const abs = resolve(filePath);
  const base = dirname(config.path);
  const rel = relative(base, abs);
  const inside = rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
  const target = (inside ? rel : abs).split(sep).join("/");
  return config.rules.find((r) => r.pathRegex === "" || goRegex(r.pathRegex)(target)) ?? null;
}
