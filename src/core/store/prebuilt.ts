import type { CompiledQuery } from "kysely";
import type { Executor } from "./schema.ts";
import { isPostgres } from "./store.ts";

const texts = new Map<string, string>();

/**
 * The SQL of a statement whose text depends only on the dialect and its shape (the columns it
 * writes), built by Kysely the first time and re-run with new parameters afterwards, so a hot
 * write does not walk the query builder on every call. `params` are the parameters in the
 * order the statement takes them; on the first build they are checked against the ones Kysely
 * compiled from the same call, so a wrong order fails at once (and always in the tests), never
 * silently.
 * @throws Error when the parameters do not match Kysely's.
 */
export function prebuiltSql(db: Executor, shape: string, params: readonly unknown[], build: () => CompiledQuery): string {
  const key = `${isPostgres(db) ? "pg" : "sqlite"}:${shape}`;
  const hit = texts.get(key);
  if (hit !== undefined) return hit;
  const compiled = build();
  const same = compiled.parameters.length === params.length && compiled.parameters.every((p, i) => p === params[i]);
  if (!same) throw new Error(`prebuilt statement ${shape}: parameters differ from the query builder's`);
  texts.set(key, compiled.sql);
  return compiled.sql;
}

/** The columns of a row that carry a value (the query builder leaves `undefined` ones out). */
export function definedColumns<T extends object>(row: T): (keyof T & string)[] {
  return (Object.keys(row) as (keyof T & string)[]).filter((k) => row[k] !== undefined);
}
