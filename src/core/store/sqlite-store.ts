import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { CofferError } from "../errors/index.ts";
import { migrateToLatest, migrationStatus } from "./migrate.ts";
import { sqliteMigrations } from "./migrations/sqlite/index.ts";
import type { Database } from "./schema.ts";
import { mapStoreError, type Store } from "./store.ts";

const MAX_CACHED_STATEMENTS = 256;

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
  } catch (e) {
    throw new CofferError("CONFIG_INVALID", `cannot open the database ${settings.path}: ${(e as Error).message}`, { path: settings.path });
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }) });
  return {
    dialect: "sqlite",
    read: (_scope, fn) => fn(db),
    transaction: (_scope, fn) =>
      withMappedErrors(() =>
        db.connection().execute(async (conn) => {
          await sql`BEGIN IMMEDIATE`.execute(conn);
          try {
            const result = await fn(conn);
            await sql`COMMIT`.execute(conn);
            return result;
          } catch (e) {
            await sql`ROLLBACK`.execute(conn);
            throw e;
          }
        }),
      ),
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
