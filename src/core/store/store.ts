import { PostgresAdapter } from "kysely";
import { CofferError } from "../errors/index.ts";
import type { MigrationStatus } from "./migrate.ts";
import type { Executor } from "./schema.ts";

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

/** The executor's dialect, for the few statements that differ (row locks, advisory locks). */
export function isPostgres(db: Executor): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
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
