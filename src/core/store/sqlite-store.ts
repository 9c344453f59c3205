import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SqliteDatabase from "better-sqlite3";
import type { DatabaseConnection, Dialect, Driver, Kysely, SqliteDatabase as KyselySqliteDatabase } from "kysely";
import { CofferError } from "../errors/index.ts";
import { kysely } from "./kysely-lazy.ts";
import { migrateToLatest, migrationStatus } from "./migrate.ts";
import { SQLITE_MIGRATION_NAMES } from "./migrations/sqlite/names.ts";
import type { Database, Executor } from "./schema.ts";
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

/** One unit of work on the connection at a time, in arrival order. */
type Lock = { acquire(): Promise<() => void> };

function createLock(): Lock {
  let tail: Promise<void> = Promise.resolve();
  return {
    acquire: () => {
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      const before = tail;
      tail = before.then(() => held);
      return before.then(() => release);
    },
  };
}

/**
 * An executor whose Kysely instance is made (and Kysely loaded, kysely-lazy.ts) on the first
 * property access. The store's hot statements never access it — they find the executor's
 * direct path by identity (sqlite-direct.ts) — so a unit of work that runs only those never
 * loads Kysely. Methods are bound to the real instance (Kysely keeps its state in private fields).
 */
function lazyExecutor(make: () => Executor): Executor {
  let real: Executor | undefined;
  const bound = new Map<PropertyKey, unknown>();
  const handler: ProxyHandler<object> = {
    get: (_target, prop) => {
      // Not a thenable: awaiting or returning the executor from an async function must not load Kysely.
      if (prop === "then") return undefined;
      real ??= make();
      const cached = bound.get(prop);
      if (cached !== undefined) return cached;
      const value: unknown = Reflect.get(real, prop, real);
      if (typeof value !== "function" || isAccessor(real, prop)) return value;
      const method = (value as (...args: unknown[]) => unknown).bind(real);
      bound.set(prop, method);
      return method;
    },
  };
  // Only ever used through the handler: a stand-in for the instance it makes.
  return new Proxy({}, handler) as unknown as Executor;
}

/** Whether `prop` is a getter somewhere on `obj`'s prototype chain (its value is not a method to bind). */
function isAccessor(obj: object, prop: PropertyKey): boolean {
  for (let o: object | null = obj; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const d = Object.getOwnPropertyDescriptor(o, prop);
    if (d !== undefined) return d.get !== undefined;
  }
  return false;
}

/**
 * Kysely's SQLite driver, taking the store's lock for each connection it hands out, so a
 * query through Kysely's root instance waits for a transaction the store opened directly.
 */
function lockedDialect(database: KyselySqliteDatabase, lock: Lock): Dialect {
  const inner = new (kysely().SqliteDialect)({ database });
  return {
    createAdapter: () => inner.createAdapter(),
    createIntrospector: (db) => inner.createIntrospector(db),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createDriver: () => lockedDriver(inner.createDriver(), lock),
  };
}

function lockedDriver(driver: Driver, lock: Lock): Driver {
  // Kysely hands out the one SQLite connection to one holder at a time (its own mutex), so one slot suffices.
  let release: (() => void) | null = null;
  const unsupported = (): Promise<void> => Promise.reject(new Error("savepoints are not supported by this driver"));
  return {
    init: (options) => driver.init(options),
    acquireConnection: async (options): Promise<DatabaseConnection> => {
      const r = await lock.acquire();
      try {
        const conn = await driver.acquireConnection(options);
        release = r;
        return conn;
      } catch (e) {
        r();
        throw e;
      }
    },
    releaseConnection: async (conn, options) => {
      try {
        await driver.releaseConnection(conn, options);
      } finally {
        const r = release;
        release = null;
        r?.();
      }
    },
    beginTransaction: (conn, settings) => driver.beginTransaction(conn, settings),
    commitTransaction: (conn) => driver.commitTransaction(conn),
    rollbackTransaction: (conn) => driver.rollbackTransaction(conn),
    savepoint: (conn, name, compile) => (driver.savepoint ? driver.savepoint(conn, name, compile) : unsupported()),
    rollbackToSavepoint: (conn, name, compile) =>
      driver.rollbackToSavepoint ? driver.rollbackToSavepoint(conn, name, compile) : unsupported(),
    releaseSavepoint: (conn, name, compile) => (driver.releaseSavepoint ? driver.releaseSavepoint(conn, name, compile) : unsupported()),
    destroy: (options) => driver.destroy(options),
  };
}

/**
 * Opens (creating if needed) a SQLite store in WAL mode. Owner scopes are not enforced by
 * SQLite (there is no row-level security); the service's own filters are the guard here.
 *
 * Kysely is made lazily (kysely-lazy.ts): the statements `coffer run` needs (the migration
 * check, key and mark lookups, an owner's current versions, the audit append) run directly on
 * better-sqlite3 (sqlite-direct.ts), so its start-up does not load Kysely. The store's own lock
 * serialises units of work on the connection: its transactions take it directly, Kysely's root
 * instance takes it for every connection it hands out.
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
  // Kysely never closes the file (its destroy() would): close() below does, once.
  const database: KyselySqliteDatabase = { prepare: (text: string) => statements.prepare(text), close: () => undefined };
  const lock = createLock();
  let root: Kysely<Database> | null = null;
  const db = lazyExecutor(() => (root = new (kysely().Kysely)<Database>({ dialect: lockedDialect(database, lock) })));
  // For a transaction's statements without a direct path: the connection is already the
  // transaction's (the store holds the lock), so this instance does not take it.
  let inTx: Kysely<Database> | null = null;
  const txKysely = (): Executor => (inTx ??= new (kysely().Kysely)<Database>({ dialect: new (kysely().SqliteDialect)({ database }) }));
  const direct: DirectSqlite = {
    all: <T>(text: string, params: readonly unknown[]) => statements.prepare(text).all(...params) as T[],
    run: (text: string, params: readonly unknown[]) => statements.prepare(text).run(...params).changes,
  };
  // The root executor reads directly only while no transaction is open on the connection.
  registerDirect(db, direct, () => !raw.inTransaction);
  const group = new SqliteGroupCommit({
    // The store's lock keeps other units of work out until COMMIT or ROLLBACK (Kysely's root
    // instance takes it too, for every connection it hands out).
    withConnection: async (work) => {
      const release = await lock.acquire();
      try {
        const tx = lazyExecutor(txKysely);
        registerDirect(tx, direct, () => true);
        await work(tx);
      } finally {
        release();
      }
    },
    run: (text) => direct.run(text, NO_PARAMS),
    inTransaction: () => raw.inTransaction,
  });
  return {
    dialect: "sqlite",
    read: (_scope, fn) => fn(db),
    // Concurrent write transactions share one commit (sqlite-group-commit.ts); inside it, each
    // unit of work's statements run directly (sqlite-direct.ts), the others through txKysely.
    transaction: (_scope, fn) => withMappedErrors(() => group.run(fn)),
    scrubErased: () => scrubSqlite(db),
    migrationStatus: () => migrationStatus(db as Kysely<unknown>, SQLITE_MIGRATION_NAMES),
    migrate: async () => {
      // The check runs directly; the migrations (and Kysely's migrator) load only when one is pending.
      const status = await migrationStatus(db as Kysely<unknown>, SQLITE_MIGRATION_NAMES);
      if (status.pending.length === 0) return [];
      const { sqliteMigrations } = await import("./migrations/sqlite/index.ts");
      return migrateToLatest(db as Kysely<unknown>, sqliteMigrations);
    },
    close: async () => {
      const made = root;
      root = null;
      inTx = null;
      if (made !== null) await made.destroy();
      statements.close();
    },
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
  const { sql } = kysely();
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
