import type { Expression, SqlBool } from "kysely";
import { CofferError } from "../errors/index.ts";
import { kysely } from "./kysely-lazy.ts";
import { SYSTEM_OWNER_ID } from "../model/index.ts";
import type { MigrationStatus } from "./migrate.ts";
import type { Executor } from "./schema.ts";
import { isDirectSqlite } from "./sqlite-direct.ts";

/**
 * Which owners' rows a unit of work may touch. On PostgreSQL this is enforced by row-level
 * security in the database itself (DESIGN §4), so an application query that forgets a filter
 * still sees nothing else; on SQLite (one local user, one file) the application's own filters
 * are the only guard.
 *
 * - `owners`: owner patterns such as `project/acme`, `project/*`, `user/alice`, `system`.
 *   An empty list sees no tenant rows (system tables such as the keyring stay readable).
 * - `all`: the explicit administrative path (audit verification, key rotation); callers name
 *   why, and the service audits what it does with it.
 */
export type OwnerScope = { readonly kind: "owners"; readonly patterns: readonly string[] } | { readonly kind: "all"; readonly why: string };

/** No tenant rows: for work on system tables only. */
export const NO_OWNERS: OwnerScope = Object.freeze({ kind: "owners", patterns: Object.freeze([]) });

/**
 * What {@link Store.scrubErased} achieved: `complete` when the bytes of deleted rows are gone
 * from the database's live files (as far as the dialect allows, see docs/erase.md); otherwise
 * `detail` says what is left and why (never a value).
 */
export type ScrubResult = { readonly complete: boolean; readonly detail: string };

export const DIALECT_NAMES = ["sqlite", "postgres"] as const;
export type DialectName = (typeof DIALECT_NAMES)[number];

/** The one door to the database. Only `core/store` writes SQL. */
export interface Store {
  readonly dialect: DialectName;
  /** Runs reads under `scope` (one read-only snapshot on PostgreSQL). */
  read<T>(scope: OwnerScope, fn: (db: Executor) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` in one write transaction under `scope`: all or nothing. SQLite starts it with
   * BEGIN IMMEDIATE, so concurrent writers queue on the busy timeout; PostgreSQL uses READ
   * COMMITTED with explicit row locks where an invariant needs one.
   */
  transaction<T>(scope: OwnerScope, fn: (tx: Executor) => Promise<T>): Promise<T>;
  /**
   * After a crypto-erase has committed: removes the bytes of deleted rows from the database's
   * live files. SQLite: VACUUM (rewrites every page, dropping free pages and the stale cell
   * bytes that earlier deletes and updates left in pages) and a TRUNCATE checkpoint of the WAL.
   * PostgreSQL: VACUUM (FULL) of `scope_keys` (rewrites the table: the erased wrapped scope keys
   * leave its files) and VACUUM of `secrets` and `secret_versions`. Never throws: a database
   * too busy to scrub now is reported in the result.
   */
  scrubErased(): Promise<ScrubResult>;
  migrationStatus(): Promise<MigrationStatus>;
  /** Applies pending migrations. */
  migrate(): Promise<readonly string[]>;
  close(): Promise<void>;
}

/**
 * An owner pattern as a SQL LIKE pattern: `_`, `%` and `\` escaped, a trailing `*` (a whole
 * id) becoming `%`. Patterns are validated before they get here: `type/id`, `type/*`, `system`.
 */
export function ownerPatternToLike(pattern: string): string {
  const full = pattern === "system" ? "system/_" : pattern;
  const escaped = full.replace(/[\\%_]/g, (c) => `\\${c}`);
  return escaped.endsWith("/*") ? `${escaped.slice(0, -1)}%` : escaped;
}

/**
 * Which owners a listing returns, applied as a WHERE clause by the query itself (not by the
 * scope of the unit of work, which only row-level security on PostgreSQL reads): the owner
 * patterns the service derived from the caller's actor, or null for every owner (the local
 * operator and admin tokens, on the audited administrative path). An empty list matches nothing.
 */
export type OwnerFilter = readonly string[] | null;

/**
 * One validated owner pattern as the owner columns it matches: `*` every owner (null),
 * `user/*` or `project/*` one type, `system` or `type/id` one owner.
 * @throws Error for anything else: the service validates patterns, so this is a bug, and the
 * query fails rather than widening.
 */
export function ownerPatternColumns(pattern: string): { readonly type: string; readonly id: string | null } | null {
  if (pattern === "*") return null;
  if (pattern === "system") return { type: "system", id: SYSTEM_OWNER_ID };
  const m = /^(user|project)\/([^/]+)$/.exec(pattern);
  if (m === null || m[1] === undefined || m[2] === undefined) throw new Error("invalid owner pattern reached the store");
  return { type: m[1], id: m[2] === "*" ? null : m[2] };
}

/**
 * An owner filter as a boolean SQL expression on a table's `owner_type` / `owner_id` columns
 * (`alias.` prefixed when given): exact comparisons only, so the `secrets_owner_idx` index
 * serves it and no LIKE escaping is involved. Built once per query, not per row.
 */
export function ownerFilterSql(patterns: readonly string[], alias: string | null = null): Expression<SqlBool> {
  const { sql } = kysely();
  const type = sql.ref(alias === null ? "owner_type" : `${alias}.owner_type`);
  const id = sql.ref(alias === null ? "owner_id" : `${alias}.owner_id`);
  const parts = patterns.map((p) => {
    const m = ownerPatternColumns(p);
    if (m === null) return sql<SqlBool>`1 = 1`;
    return m.id === null ? sql<SqlBool>`${type} = ${m.type}` : sql<SqlBool>`(${type} = ${m.type} AND ${id} = ${m.id})`;
  });
  if (parts.length === 0) return sql<SqlBool>`1 = 0`;
  return sql<SqlBool>`(${sql.join(parts, sql` OR `)})`;
}

/**
 * The executor's dialect, for the few statements that differ (row locks, advisory locks). The
 * SQLite store's own executors are known without asking Kysely (it may not be loaded).
 */
export function isPostgres(db: Executor): boolean {
  if (isDirectSqlite(db)) return false;
  return db.getExecutor().adapter instanceof kysely().PostgresAdapter;
}

const BUSY_CODES = new Set(["SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED", "57014", "55P03", "40P01"]);
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "57P01",
  "57P03",
  "08000",
  "08001",
  "08003",
  "08006",
]);

/**
 * Driver errors that say "not now" become stable codes, with the driver's code but never its
 * message (it can quote SQL parameters); anything else passes through unchanged.
 */
export function mapStoreError(e: unknown): unknown {
  if (e instanceof CofferError || typeof e !== "object" || e === null) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== "string") return e;
  if (BUSY_CODES.has(code))
    return new CofferError(
      "STORE_BUSY",
      `the database is busy (${code}); nothing was written, try again`,
      { driverCode: code },
      { cause: e },
    );
  if (UNAVAILABLE_CODES.has(code))
    return new CofferError("STORE_UNAVAILABLE", `cannot reach the database (${code})`, { driverCode: code }, { cause: e });
  return e;
}
