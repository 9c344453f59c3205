import type { Executor } from "./schema.ts";

/**
 * A shorter path to PostgreSQL for the store's prebuilt reads outside a transaction (the SQL
 * built once, re-run with new parameters): straight to a pooled connection's named statement,
 * without Kysely's executor pipeline (query ids, plugins, connection provider, result
 * transformation), which cost a masked get more client CPU than pg itself.
 *
 * Safety: only the store's root executor is registered, whose reads run in autocommit on any
 * pooled connection, exactly as through Kysely: the same pool hands out the connection, which
 * runs as `coffer_app` and carries the read's owner scope before the statement runs
 * (prepared-pool.ts), so row-level security applies alike. A transaction's executor is never
 * registered: its statements stay on its own connection, through Kysely.
 */
export interface DirectPostgres {
  all<T>(sql: string, params: readonly unknown[]): Promise<T[]>;
}

const handles = new WeakMap<object, DirectPostgres>();

/** Registers the direct path of the PostgreSQL store's root executor (the store calls this). */
export function registerPgDirect(db: object, direct: DirectPostgres): void {
  handles.set(db, direct);
}

/** The executor's direct PostgreSQL path, when it has one. */
export function pgDirectFor(db: Executor): DirectPostgres | null {
  return handles.get(db) ?? null;
}
