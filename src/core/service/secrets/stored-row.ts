import { lazySchema } from "../../model/index.ts";
import type * as z from "zod/mini";
import { CofferError } from "../../errors/index.ts";

/** Which stored row: its table and primary key (an id or audit seq), never a stored value. */
export type RowName = { readonly table: string; readonly row: string | number; readonly label?: string };

const PRINTABLE_LABEL = /^[A-Za-z0-9_./ -]{1,200}$/;

/**
 * A stored row that does not parse as Coffer wrote it: changed outside Coffer, or a bug.
 * `STORE_CORRUPT` naming the table, the row and the column; never the stored text (it may be
 * anything a writer of the database put there, terminal escapes included).
 */
export function corruptRow(at: RowName, column: string, rule: string): CofferError {
  const label = at.label !== undefined && PRINTABLE_LABEL.test(at.label) ? ` (${at.label})` : "";
  return new CofferError(
    "STORE_CORRUPT",
    `stored row ${at.table} ${String(at.row)}${label} is corrupt: ${column} ${rule}; restore it from a backup or delete it (docs/errors.md)`,
    { table: at.table, row: String(at.row), column },
  );
}

/**
 * Parses a JSON column as written by Coffer and checks its shape: `fits`, when given, accepts
 * the common case without the schema (never anything the schema refuses), the schema decides the rest.
 * @throws CofferError STORE_CORRUPT naming the row and column when it does not parse or fit.
 */
export function parseStoredJson<T>(
  text: string,
  schema: z.ZodMiniType<T>,
  at: RowName,
  column: string,
  rule: string,
  fits?: (json: unknown) => json is T,
): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw corruptRow(at, column, "is not JSON");
  }
  if (fits?.(json) === true) return json;
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw corruptRow(at, column, rule);
  return parsed.data;
}

/** A secret's `meta`: an object of strings. */
export const STORED_META = lazySchema((z) => z.record(z.string(), z.string()));
export const META_RULE = "is not a JSON object of strings";
