import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { CofferError } from "../errors/index.ts";
import { migrateToLatest, migrationStatus } from "./migrate.ts";
import { sqliteMigrations } from "./migrations/sqlite/index.ts";
import type { Database } from "./schema.ts";
import { registerDirect, type DirectSqlite } from "./sqlite-direct.ts";
import { SqliteGroupCommit } from "./sqlite-group-commit.ts";
import { mapStoreError, type ScrubResult, type Store } from "./store.ts";

const MAX_CACHED_STATEMENTS = 256;
const NO_PARAMS: readonly unknown[] = [];

/**
 * Kysely prepares every query anew; better-sqlite3 statements are reusable, so keep the most
 * recently used ones by SQL text. Safe because Coffer never streams (a statement is never
 * executing twice at once).
 */
function withStatementCache(raw: SqliteDatabase.Database): { close(): void; prepare(sql: string): SqliteDatabase.Statement } {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => {
      cache.clear();
      raw.close();
    },
    prepare: (sql: string) => {
      const hit = cache.get(sql);
      if (hit !== undefined) return hit;
      const stmt = raw.prepare(sql);
      cache.set(sql, stmt);
      if (cache.size > MAX_CACHED_STATEMENTS) {
        const oldest = cache.keys().next();
        if (oldest.done !== true) cache.delete(oldest.value);
      }
      return stmt;
    },
  };
}

/**
 * Opens (creating if needed) a SQLite store in WAL mode. Owner scopes are not enforced by
 * SQLite (there is no row-level security); the service's own filters are the guard here.
 * @throws CofferError CONFIG_INVALID when the file cannot be opened.
 */
export function openSqliteStore(settings: { readonly path: string; readonly busyTimeoutMs: number }): Store {
  let raw: SqliteDatabase.Database;
  try {
    mkdirSync(dirname(settings.path), { recursive: true, mode: 0o700 });
    raw = new SqliteDatabase(settings.path, { timeout: settings.busyTimeoutMs });
    raw.pragma("journal_mode = WAL");
    raw.pragma("synchronous = NORMAL");
    raw.pragma("foreign_keys = ON");
    // Deleted and overwritten content is zeroed (cells, freed pages, overflow chains) as it is
    // freed, so no page written from now on, to the WAL or the main file, keeps an erased
    // or superseded row's bytes (docs/erase.md). Per connection: SQLite does not store it.
    raw.pragma("secure_delete = ON");
  } catch (e) {
    throw new CofferError("CONFIG_INVALID", `cannot open the database ${settings.path}: ${(e as Error).message}`, { path: settings.path });
  }
  const statements = withStatementCache(raw);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: statements }) });
  const direct: DirectSqlite = {
    all: <T>(text: string, params: readonly unknown[]) => statements.prepare(text).all(...params) as T[],
    run: (text: string, params: readonly unknown[]) => statements.prepare(text).run(...params).changes,
  };
  // The root executor reads directly only while no transaction is open on the connection.
  registerDirect(db, direct, () => !raw.inTransaction);
  const group = new SqliteGroupCommit({
    // Kysely's connection lock keeps other units of work out until COMMIT or ROLLBACK.
    withConnection: (work) =>
      db.connection().execute(async (conn) => {
        registerDirect(conn, direct, () => true);
        await work(conn);
      }),
    run: (text) => direct.run(text, NO_PARAMS),
    inTransaction: () => raw.inTransaction,
  });
  return {
    dialect: "sqlite",
    read: (_scope, fn) => fn(db),
    // Concurrent write transactions share one commit (sqlite-group-commit.ts); inside it, each
    // unit of work's statements run directly (sqlite-direct.ts).
    transaction: (_scope, fn) => withMappedErrors(() => group.run(fn)),
    scrubErased: () => scrubSqlite(db),
    migrationStatus: () => migrationStatus(db as Kysely<unknown>, sqliteMigrations),
    migrate: () => migrateToLatest(db as Kysely<unknown>, sqliteMigrations),
    close: () => db.destroy(),
  };
}

async function withMappedErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw mapStoreError(e);
  }
}

type CheckpointRow = { readonly busy: number; readonly log: number; readonly checkpointed: number };

/**
 * VACUUM rebuilds the database from its live rows and writes every page back, so neither free
 * pages nor stale bytes inside pages (left by deletes and updates made before secure_delete
 * was on, e.g. by an older Coffer) survive; the TRUNCATE checkpoint then copies the WAL into
 * the main file and truncates the WAL to zero bytes, so no WAL frame keeps an old page image.
 * The checkpoint waits (busy timeout) for readers of older snapshots; if one outlasts it, the
 * WAL is left as is and the result says so.
 */
async function scrubSqlite(db: Kysely<Database>): Promise<ScrubResult> {
  try {
    return await db.connection().execute(async (conn) => {
      await sql`VACUUM`.execute(conn);
      const { rows } = await sql<CheckpointRow>`PRAGMA wal_checkpoint(TRUNCATE)`.execute(conn);
      const r = rows[0];
      if (r === undefined || r.busy !== 0) {
        return {
          complete: false,
          detail:
            "VACUUM rewrote the database file, but another connection kept the WAL busy: old page images stay in the -wal file until the next checkpoint",
        };
      }
      return { complete: true, detail: "SQLite: VACUUM rewrote the database file; the WAL was checkpointed and truncated to 0 bytes" };
    });
  } catch (e) {
    return {
      complete: false,
      detail: `SQLite: could not VACUUM now (${driverCode(e)}); the erased rows were zeroed as they were deleted (secure_delete), but older copies may remain in the WAL or in pages freed before secure_delete was on`,
    };
  }
}

function driverCode(e: unknown): string {
  const code = typeof e === "object" && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "error";
}
