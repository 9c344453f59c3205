import { kysely } from "./kysely-lazy.ts";
import { pgDirectFor } from "./pg-direct.ts";
import type { Executor } from "./schema.ts";

/**
 * A synchronous path to the SQLite connection under an executor, for the store's hottest
 * statements (SQL built once, re-run with new parameters). Kysely's SQLite driver sends every
 * query through an async mutex, its executor pipeline and several promise hops to make one
 * synchronous better-sqlite3 call; a masked get paid that for one `SELECT` (docs/benchmarks.md).
 *
 * Safety: better-sqlite3 runs each statement to completion on the calling thread, so a
 * direct call never interleaves with another statement. What it must not do is read inside
 * a transaction that another unit of work has open on the same connection (it would see that
 * transaction's uncommitted rows): the handle of the store's root executor answers `null`
 * while any transaction is open, and the caller then takes Kysely's path, which waits for
 * the transaction to end exactly as before. A transaction's own executor always runs directly.
 */
export interface DirectSqlite {
  all<T>(sql: string, params: readonly unknown[]): T[];
  /** @returns the number of rows changed. */
  run(sql: string, params: readonly unknown[]): number;
}

type Handle = { readonly direct: DirectSqlite; readonly usable: () => boolean };

const handles = new WeakMap<object, Handle>();

/** Registers the synchronous path of an executor (SQLite only; the store calls this). */
export function registerDirect(db: object, direct: DirectSqlite, usable: () => boolean): void {
  handles.set(db, { direct, usable });
}

/**
 * Whether the executor is one of the SQLite store's (with a synchronous path, usable now or
 * not). Answered without touching the executor, so it does not load Kysely (kysely-lazy.ts).
 */
export function isDirectSqlite(db: Executor): boolean {
  return handles.has(db);
}

/** The executor's synchronous path, when it has one and may use it now. */
function directFor(db: Executor): DirectSqlite | null {
  const h = handles.get(db);
  return h !== undefined && h.usable() ? h.direct : null;
}

/** Runs a prebuilt SELECT: directly on SQLite when safe (PostgreSQL: pg-direct.ts), otherwise through Kysely. */
export async function selectRows<T>(db: Executor, sql: string, params: readonly unknown[]): Promise<T[]> {
  const d = directFor(db);
  if (d !== null) return d.all<T>(sql, params);
  const p = pgDirectFor(db);
  if (p !== null) return p.all<T>(sql, params);
  return (await db.executeQuery<T>(kysely().CompiledQuery.raw(sql, [...params]))).rows;
}

/**
 * Runs a prebuilt statement that returns no rows: directly on SQLite when safe, otherwise
 * through Kysely. @returns the number of rows it changed.
 */
export async function runStatement(db: Executor, sql: string, params: readonly unknown[]): Promise<number> {
  const d = directFor(db);
  if (d !== null) return d.run(sql, params);
  return Number((await db.executeQuery(kysely().CompiledQuery.raw(sql, [...params]))).numAffectedRows ?? 0n);
}
