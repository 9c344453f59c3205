import { CofferError, isCofferError } from "../../errors/index.ts";
import { formatOwner, parseKeyName, type KeyName, type Owner } from "../../model/index.ts";
import type { Secret } from "../../secret/index.ts";
import { secretRepo, type Executor } from "../../store/index.ts";
import { checkValueSize, parseMeta } from "./secret-inputs.ts";
import { cols } from "./secret-lookup.ts";

export const IMPORT_MODES = ["merge", "replace"] as const;
/** `merge`: upsert the given keys. `replace`: afterwards the owner holds exactly the given keys. */
export type ImportMode = (typeof IMPORT_MODES)[number];

/** One secret to import; `where` says where it came from (`line 7`, `key "DB_URL"`) for error messages. */
export type ImportEntry = {
  readonly key: string;
  readonly value: Secret;
  readonly meta?: unknown;
  readonly where?: string;
};

export type ImportInput = {
  readonly owner: string;
  readonly entries: readonly ImportEntry[];
  readonly mode: ImportMode;
  /** The source format (`dotenv`, `bundle`…), recorded in the audit events. */
  readonly source?: string;
};

export type ImportedKey = { readonly key: string; readonly version: number; readonly existed: boolean };

export type ImportSummary = {
  readonly owner: string;
  readonly mode: ImportMode;
  readonly imported: number;
  /** Of `imported`: new versions of secrets that were live before. */
  readonly updated: number;
  /** `replace` only: live secrets not in the input, now deleted (soft, history kept). */
  readonly deleted: readonly string[];
  readonly secrets: readonly ImportedKey[];
};

export type ParsedEntry = {
  readonly name: KeyName;
  readonly value: Secret;
  readonly meta: Readonly<Record<string, string>> | null;
  readonly where: string;
};

/** Re-raises a CofferError with where it came from in front (`line 7: key: must…`). */
export function at(where: string, e: unknown): unknown {
  if (!isCofferError(e)) return e;
  return new CofferError(e.code, `${where}: ${e.message}`, { ...e.details, at: where }, { cause: e });
}

/**
 * Validates every entry before anything is written: key names, value sizes, metadata, and
 * duplicates (naming both places). @throws CofferError INVALID_INPUT naming the entry.
 */
export function parseEntries(entries: readonly ImportEntry[]): ParsedEntry[] {
  if (entries.length === 0) throw new CofferError("INVALID_INPUT", "entries: the input holds no secrets", { field: "entries" });
  const seen = new Map<string, string>();
  return entries.map((e, i) => {
    const where = e.where ?? `entry ${String(i + 1)}`;
    try {
      const name = parseKeyName(e.key);
      checkValueSize(e.value);
      const meta = e.meta === undefined ? null : parseMeta(e.meta);
      const first = seen.get(name);
      if (first !== undefined)
        throw new CofferError("INVALID_INPUT", `key: ${name} is also at ${first}; each key may appear once`, { field: "key" });
      seen.set(name, where);
      return { name, value: e.value, meta, where };
    } catch (err) {
      throw at(where, err);
    }
  });
}

/**
 * Every live secret of an owner, in pages (inside the import's transaction). The caller has
 * authorized the owner; the query is limited to that one owner on every dialect.
 */
export async function liveSecrets(tx: Executor, owner: Owner): Promise<secretRepo.SecretRow[]> {
  const out: secretRepo.SecretRow[] = [];
  const limit = 5000;
  for (let afterId = 0; ;) {
    const page = await secretRepo.listSecrets(tx, {
      visible: [formatOwner(owner)],
      owner: cols(owner),
      ownerType: null,
      prefix: "",
      includeDeleted: false,
      afterId,
      limit,
    });
    out.push(...page);
    const last = page.at(-1);
    if (page.length < limit || last === undefined) return out;
    afterId = last.id;
  }
}
