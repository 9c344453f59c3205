import pg from "pg";
import { CompiledQuery, Kysely, PostgresDialect, sql } from "kysely";
import { CofferError } from "../errors/index.ts";
import type { Secret } from "../secret/index.ts";
import { migrateToLatest, migrationStatus } from "./migrate.ts";
import { postgresMigrations } from "./migrations/postgres/index.ts";
import { registerPgDirect } from "./pg-direct.ts";
import { DEFERRED_BEGIN, preparedStatementPool, sessionScope } from "./prepared-pool.ts";
import type { Database, Executor } from "./schema.ts";
import { mapStoreError, ownerPatternToLike, type OwnerScope, type ScrubResult, type Store } from "./store.ts";

export type PostgresSettings = {
  /** A `postgres://` URL; it may hold a password, so it is a Secret and never logged. */
  readonly url: Secret;
  readonly poolMax: number;
  readonly statementTimeoutMs: number;
};

/** The role the application switches to on every connection: not the owner, no BYPASSRLS. */
export const APP_ROLE = "coffer_app";

const COMMIT = CompiledQuery.raw("COMMIT");
const ROLLBACK = CompiledQuery.raw("ROLLBACK");
const TIMESTAMPTZ = 1184;
const TIMESTAMP = 1114;
const JSONB = 3802;
const JSON_OID = 114;
const INT8 = 20;

/** PostgreSQL's text form of a UTC timestamptz (the session time zone UTC, as Coffer's servers run). */
const UTC_TIMESTAMP = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/;

/**
 * A timestamp as the ISO-8601 string `Date#toISOString` gives (milliseconds, `Z`). The common
 * UTC form is rewritten as text, which is what the Date round trip produced for it (fractions
 * past the millisecond truncated) without parsing a date on every read of every row; any
 * other form (another session time zone, no zone) goes through Date as before.
 */
export function parseTimestamp(v: string): string {
  const m = UTC_TIMESTAMP.exec(v);
  if (m !== null) return `${m[1] ?? ""}T${m[2] ?? ""}.${(m[3] ?? "").padEnd(3, "0").slice(0, 3)}Z`;
  return new Date(v.includes("+") || v.endsWith("Z") ? v : `${v}Z`).toISOString();
}

const asText = (v: string): string => v;
function parseInt8(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new CofferError("INTERNAL", "a bigint column exceeded 2^53");
  return n;
}

/**
 * The application's view of PostgreSQL values: times as ISO-8601 strings and JSON as text,
 * as in SQLite, so repositories and services see one shape on both dialects; bigint as a
 * JavaScript number (ids and sequence numbers stay far below 2^53).
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary"): ((v: string) => unknown) => {
    if (oid === TIMESTAMPTZ || oid === TIMESTAMP) return parseTimestamp;
    if (oid === JSONB || oid === JSON_OID) return asText;
    if (oid === INT8) return parseInt8;
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- pg's TypeId is a numeric enum of OIDs; any OID is valid here.
    return pg.types.getTypeParser(oid, format) as (v: string) => unknown;
  }) as pg.CustomTypesConfig["getTypeParser"],
};

function pool(settings: PostgresSettings, max: number): pg.Pool {
  const p = new pg.Pool({
    connectionString: settings.url.revealText(),
    max,
    types,
    statement_timeout: settings.statementTimeoutMs,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client's error (server restart) must not crash the process; the next query fails loudly.
  p.on("error", () => undefined);
  return p;
}

const SCOPE_TEXT = /^[A-Za-z0-9._/%\\,-]*$/;

/** The two settings the row-level security policies read, for a scope. */
function scopeSettings(scope: OwnerScope): { all: "on" | "off"; owners: string } {
  const all = scope.kind === "all" ? "on" : "off";
  const owners = scope.kind === "owners" ? scope.patterns.map(ownerPatternToLike).join(",") : "";
  if (!SCOPE_TEXT.test(owners)) throw new CofferError("INTERNAL", "an owner pattern has characters that cannot reach SQL");
  return { all, owners };
}

/** Session scopes (`all|owners`) by owner patterns: a server sees few distinct ones. */
const sessionScopes = new Map<string, string>();
const MAX_SESSION_SCOPES = 1024;

/** A read's session scope, checked once per distinct scope (see `scopeSettings`). */
function sessionScopeOf(scope: OwnerScope): string {
  const key = scope.kind === "all" ? "\u0000all" : scope.patterns.join("\u0000");
  let text = sessionScopes.get(key);
  if (text === undefined) {
    const { all, owners } = scopeSettings(scope);
    text = `${all}|${owners}`;
    if (sessionScopes.size < MAX_SESSION_SCOPES) sessionScopes.set(key, text);
  }
  return text;
}

/**
 * BEGIN and the transaction-local owner scope that the row-level security policies read. The
 * pool sends them with the transaction's first statement, in the same round trip, and that
 * statement runs only if both succeeded (prepared-pool.ts, pg-pipeline.ts). The scope is
 * checked against a strict character set first (owner patterns are validated long before;
 * this is the last guard).
 */
function beginScoped(scope: OwnerScope): CompiledQuery {
  const { all, owners } = scopeSettings(scope);
  return CompiledQuery.raw(DEFERRED_BEGIN, [all, owners]);
}

/**
 * Opens a PostgreSQL store: a connection pool whose every connection switches to the
 * `coffer_app` role, and a transaction per unit of work carrying its owner scope. Migrations
 * run as the connecting (owner) role on a connection of their own.
 */
export function openPostgresStore(settings: PostgresSettings): Store {
  const appPool = preparedStatementPool(pool(settings, settings.poolMax), APP_ROLE, types);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: appPool }) });
  // The root executor's prebuilt reads (autocommit, as through Kysely) go straight to the pool.
  registerPgDirect(db, {
    all: async <T>(text: string, params: readonly unknown[]): Promise<T[]> => {
      const client = await appPool.connect();
      try {
        return (await client.query<T>(text, params)).rows;
      } finally {
        client.release();
      }
    },
  });
  const asOwner = async <T>(fn: (owner: Kysely<unknown>) => Promise<T>): Promise<T> => {
    const owner = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: pool(settings, 1) }) });
    try {
      return await fn(owner);
    } catch (e) {
      throw mapStoreError(e);
    } finally {
      await owner.destroy();
    }
  };
  // A transaction sets its scope transaction-locally (BEGIN, set_config(…, true)); it runs
  // outside any read's session scope so no session-level setting happens inside it.
  const transaction = <T>(scope: OwnerScope, fn: (tx: Executor) => Promise<T>): Promise<T> =>
    sessionScope
      .exit(() =>
        db.connection().execute(async (conn) => {
          await conn.executeQuery(beginScoped(scope));
          try {
            const result = await fn(conn);
            await conn.executeQuery(COMMIT);
            return result;
          } catch (e) {
            // A broken connection fails the ROLLBACK too; the original error is the one to report.
            await conn.executeQuery(ROLLBACK).catch(() => undefined);
            throw e;
          }
        }),
      )
      .catch((e: unknown) => {
        throw mapStoreError(e);
      });
  // Reads run in autocommit. Before each statement the pool makes sure its connection has the
  // read's session-level scope, which it caches per connection: a read whose scope the
  // connection already has is one round trip, like a bare query. Each statement sees committed
  // data (READ COMMITTED); no read needs a multi-statement snapshot.
  const read = <T>(scope: OwnerScope, fn: (db: Executor) => Promise<T>): Promise<T> => {
    return sessionScope
      .run(sessionScopeOf(scope), () => fn(db))
      .catch((e: unknown) => {
        throw mapStoreError(e);
      });
  };
  return {
    dialect: "postgres",
    read,
    transaction,
    scrubErased: () => asOwner(scrubPostgres).catch((e: unknown) => scrubFailed(e)),
    migrationStatus: () => asOwner((owner) => migrationStatus(owner, postgresMigrations)),
    migrate: () => asOwner((owner) => migrateToLatest(owner, postgresMigrations)),
    close: () => db.destroy(),
  };
}

/** How long the scrub waits for the ACCESS EXCLUSIVE lock that VACUUM (FULL) needs. */
const SCRUB_LOCK_TIMEOUT = "5s";
/** How often the rewrite is tried (at least twice; more while another transaction holds a snapshot), and how far apart. */
const SCRUB_ATTEMPTS = 6;
const SCRUB_RETRY_MS = 200;

/**
 * Run as the connecting (owner) role, outside any transaction (VACUUM cannot run in one).
 * VACUUM (FULL) writes `scope_keys` to a new file holding only live rows and drops the old one,
 * so the erased wrapped scope keys leave the table's files; its table is small (O(owners)), so
 * the exclusive lock is brief, and it is bounded by a lock timeout. Without those keys the
 * DEKs and ciphertexts that plain VACUUM leaves as dead bytes in `secret_versions` pages until
 * they are overwritten cannot be decrypted. VACUUM by a role that does not own a table only
 * warns and skips it, so success is checked by the file node changing.
 */
async function scrubPostgres(pool: Kysely<unknown>): Promise<ScrubResult> {
  return pool.connection().execute(async (owner) => {
    const node = async (): Promise<unknown> =>
      (await sql<{ n: unknown }>`SELECT pg_relation_filenode('scope_keys') AS n`.execute(owner)).rows[0]?.n;
    // Another transaction of this database holding a snapshot (a long report, an autovacuum
    // ANALYZE) makes the erased rows "recently dead": VACUUM (FULL) must copy them into the new
    // file. Such a holder before or after the rewrite means the scrub cannot be called complete.
    const snapshots = async (): Promise<number> =>
      Number(
        (
          await sql<{ n: unknown }>`SELECT count(*) AS n FROM pg_stat_activity
            WHERE pid <> pg_backend_pid() AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)
              AND (datname = current_database() OR datname IS NULL)`.execute(owner)
        ).rows[0]?.n ?? 0,
      );
    await sql.raw(`SET lock_timeout = '${SCRUB_LOCK_TIMEOUT}'`).execute(owner);
    // A holder (an open transaction: a snapshot, or a transaction id that has written) is
    // usually short-lived, so the rewrite is tried a few times, briefly apart, before the
    // scrub is reported incomplete.
    // At least two rewrites, apart: a snapshot too brief for pg_stat_activity to show (a backend
    // of any database still connecting counts for every database's horizon) can make the first
    // rewrite keep the erased rows as recently dead; the second, after it ended, drops them.
    let held = 0;
    let clean = 0;
    for (let attempt = 0; attempt < SCRUB_ATTEMPTS && clean < 2; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, SCRUB_RETRY_MS));
      const before = await node();
      const holdersBefore = await snapshots();
      await sql`VACUUM (FULL) scope_keys`.execute(owner);
      if ((await node()) === before) {
        return { complete: false, detail: "PostgreSQL: VACUUM (FULL) scope_keys was skipped (the connecting role does not own the table)" };
      }
      held = holdersBefore + (await snapshots());
      clean = held === 0 ? clean + 1 : 0;
    }
    await sql`VACUUM secrets, secret_versions`.execute(owner);
    if (held > 0) {
      return {
        complete: false,
        detail:
          "PostgreSQL: another transaction held a snapshot during VACUUM (FULL), which may have kept the erased keys; run VACUUM (FULL) scope_keys again when it has ended",
      };
    }
    return {
      complete: true,
      detail:
        "PostgreSQL: VACUUM (FULL) rewrote scope_keys without the erased keys; WAL segments, archives, replicas and backups keep copies (docs/erase.md)",
    };
  });
}

function scrubFailed(e: unknown): ScrubResult {
  const raw =
    e instanceof CofferError
      ? (e.details["driverCode"] ?? e.code)
      : typeof e === "object" && e !== null
        ? (e as { code?: unknown }).code
        : undefined;
  const code = typeof raw === "string" ? raw : "error";
  return { complete: false, detail: `PostgreSQL: could not VACUUM (FULL) scope_keys now (${code}); run it as the table owner` };
}
