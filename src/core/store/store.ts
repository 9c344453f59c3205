import { PostgresAdapter } from "kysely";
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
