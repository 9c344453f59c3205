import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { parse } from "yaml";
import { CofferError } from "../core/errors/index.ts";
import { checkRecipient } from "./data-key.ts";
import { RULE_KINDS, type EncryptionRule } from "./metadata.ts";
import { goRegex } from "./walk.ts";

/**
 * `.sops.yaml` (FORMAT.md §10): found by walking up from the working directory (at most 100
 * parents) unless `--config`/`SOPS_CONFIG` names it; `creation_rules` are tried in order, the
 * first whose `path_regex` (unanchored; empty matches all) matches the file's path relative to
 * the config's directory wins. Only age keys are used; other key types in a rule are ignored.
 */
export type CreationRule = {
  readonly pathRegex: string;
  /** One or more key groups of age recipients (several → Shamir). */
  readonly groups: readonly (readonly string[])[];
  readonly shamirThreshold: number;
  readonly rule: EncryptionRule | null;
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

function ageList(v: unknown, file: string, field: string): string[] {
  const items = typeof v === "string" ? v.split(",") : Array.isArray(v) ? v.map((x) => (typeof x === "string" ? x : "")) : [];
  if (v !== undefined && v !== null && typeof v !== "string" && !Array.isArray(v))
    throw invalid(file, field, "must be a list or a comma-separated string");
  return items
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map((r, i) => {
      try {
        return checkRecipient(r, `${field}.${String(i)}`);
      } catch (e) {
        throw invalid(file, `${field}.${String(i)}`, e instanceof Error ? e.message.replace(/^[^:]*: /, "") : "invalid");
      }
    });
}

function parseRule(raw: unknown, i: number, file: string): CreationRule {
  const f = `creation_rules.${String(i)}`;
  if (typeof raw !== "object" || raw === null) throw invalid(file, f, "must be a map");
  const r = raw as Record<string, unknown>;
  const kinds = RULE_KINDS.filter((k) => typeof r[k] === "string" && r[k] !== "");
  if (kinds.length > 1) throw invalid(file, f, `at most one of ${kinds.join(", ")} may be set`);
  const kind = kinds[0];
  const groups = Array.isArray(r["key_groups"])
    ? (r["key_groups"] as unknown[]).map((g, j) =>
        ageList((g as Record<string, unknown> | null)?.["age"], file, `${f}.key_groups.${String(j)}.age`),
      )
    : [ageList(r["age"], file, `${f}.age`)];
  const pathRegex = typeof r["path_regex"] === "string" ? r["path_regex"] : "";
  goRegex(pathRegex);
  return {
    pathRegex,
    groups: groups.filter((g) => g.length > 0),
    shamirThreshold: typeof r["shamir_threshold"] === "number" ? r["shamir_threshold"] : 0,
    rule: kind === undefined ? null : { kind, value: r[kind] as string },
    macOnlyEncrypted: r["mac_only_encrypted"] === true,
  };
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
