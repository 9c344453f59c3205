import type { Insertable, Selectable, SqlBool } from "kysely";
import { kysely } from "./kysely-lazy.ts";
import { runStatement, selectRows } from "./sqlite-direct.ts";
import { SQLITE_SQL, sqliteInsertPrefix } from "./sqlite-sql.ts";
import { isPostgres, ownerFilterSql, type OwnerFilter } from "./store.ts";
import type { AuditEventsTable, Executor } from "./schema.ts";

export type AuditRow = Selectable<AuditEventsTable>;

/** Advisory lock id of the audit chain (an arbitrary constant, unique within Coffer). */
const AUDIT_CHAIN_LOCK = 7_300_001;

/**
 * Takes the audit chain's lock until the transaction ends, so appends from several servers
 * are serialised and each event chains to the true previous one (PostgreSQL; SQLite's
 * BEGIN IMMEDIATE already serialises writers).
 */
export async function lockAuditChain(db: Executor): Promise<void> {
  if (isPostgres(db)) await kysely().sql`SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK})`.execute(db);
}

/** The chain's head: the newest event's sequence number and MAC. */
export async function lastAuditEvent(db: Executor): Promise<{ seq: number; mac: Uint8Array } | null> {
  const pg = isPostgres(db);
  let text = lastEventSql.get(pg);
  if (text === undefined) {
    // LIMIT as a literal: a bound LIMIT costs SQLite a slower plan (about 28 µs per write, measured).
    text = db.selectFrom("audit_events").select(["seq", "mac"]).orderBy("seq", "desc").limit(kysely().sql.lit(1)).compile().sql;
    lastEventSql.set(pg, text);
  }
  return (await selectRows<{ seq: number; mac: Uint8Array }>(db, text, []))[0] ?? null;
}

/** SQL built once per dialect (every reveal and write runs these); SQLite's written out (sqlite-sql.ts). */
const lastEventSql = new Map<boolean, string>([[false, SQLITE_SQL.lastAuditEvent]]);
const insertPrefixSql = new Map<string, string>();
/** `INSERT … values (…), (…)` by dialect, columns and number of rows (up to {@link CACHED_INSERT_ROWS}). */
const insertSql = new Map<string, string>();
const CACHED_INSERT_ROWS = 64;

/**
 * Inserts events in order, in one statement. Kysely builds the single-row INSERT; its VALUES
 * tuple is then repeated (placeholders only) for every row. Building a multi-row INSERT through
 * the query builder visits every value node, which dominated `coffer run` with 100 secrets
 * (100 events, 1,600 values); one statement per row cost a round trip each on PostgreSQL.
 */
export async function insertAuditEvents(db: Executor, rows: readonly Insertable<AuditEventsTable>[]): Promise<void> {
  const first = rows[0];
  if (first === undefined) return;
  const columns = Object.keys(first) as (keyof Insertable<AuditEventsTable>)[];
  const pg = isPostgres(db);
  const cacheKey = `${String(pg)}:${columns.join(",")}`;
  let prefix = insertPrefixSql.get(cacheKey);
  if (prefix === undefined && !pg) {
    // SQLite: written out, so `coffer run` does not load Kysely (sqlite-sql.ts).
    prefix = sqliteInsertPrefix("audit_events", columns);
    insertPrefixSql.set(cacheKey, prefix);
  }
  if (prefix === undefined) {
    const single = db.insertInto("audit_events").values(first).compile().sql;
    const at = single.lastIndexOf(" values (");
    if (at < 0 || !single.endsWith(")")) throw new Error("unexpected INSERT shape from the query builder");
    prefix = single.slice(0, at);
    insertPrefixSql.set(cacheKey, prefix);
  }
  for (const row of rows) if (Object.keys(row).length !== columns.length) throw new Error("audit rows must all have the same columns");
  // The whole text, once per number of rows up to a group commit's usual batch: the same string
  // each time (its hash cached), not a new one of a few kB for every batch to build and look up
  // in the statement cache. Bigger batches (bulk appends) are built each time.
  const textKey = `${cacheKey}:${String(rows.length)}`;
  let text = insertSql.get(textKey);
  if (text === undefined) {
    const tuples = rows.map((_, i) => `(${columns.map((_, j) => (pg ? `$${String(i * columns.length + j + 1)}` : "?")).join(", ")})`);
    text = `${prefix} values ${tuples.join(", ")}`;
    if (rows.length <= CACHED_INSERT_ROWS) insertSql.set(textKey, text);
  }
  const params: unknown[] = [];
  for (const row of rows) for (const c of columns) params.push(row[c]);
  await runStatement(db, text, params);
}

export type AuditFilter = {
  /**
   * Whose events the caller may read: events whose owner matches these patterns (null: any
   * owner), plus events about no owner only when `ownerless` (tokens, keyring: admin only).
   * Absent: every event (verification, the local operator).
   */
  readonly visible?: { readonly owners: OwnerFilter; readonly ownerless: boolean };
  readonly afterSeq: number;
  readonly limit: number;
  readonly ownerType: string | null;
  readonly ownerId: string | null;
  readonly action: string | null;
  /** "desc": newest first, and `beforeSeq` (when given) is the cursor. Default "asc". */
  readonly order?: "asc" | "desc";
  readonly beforeSeq?: number | null;
  readonly actor?: string | null;
  /** ISO 8601 UTC instants (`Date.toISOString()`): `at >= since`, `at < until`. */
  readonly since?: string | null;
  readonly until?: string | null;
};

/** Events in sequence order (or newest first) after/before a cursor, optionally filtered. */
export async function listAuditEvents(db: Executor, f: AuditFilter): Promise<AuditRow[]> {
  let q = db.selectFrom("audit_events").selectAll().where("seq", ">", f.afterSeq);
  if (f.beforeSeq !== undefined && f.beforeSeq !== null) q = q.where("seq", "<", f.beforeSeq);
  const v = f.visible;
  if (v !== undefined && !(v.owners === null && v.ownerless)) {
    const { sql } = kysely();
    const owned = v.owners === null ? sql<SqlBool>`owner_type IS NOT NULL` : ownerFilterSql(v.owners);
    q = q.where(v.ownerless ? sql<SqlBool>`(owner_type IS NULL OR ${owned})` : owned);
  }
  if (f.ownerType !== null) q = q.where("owner_type", "=", f.ownerType);
  if (f.ownerId !== null) q = q.where("owner_id", "=", f.ownerId);
  if (f.action !== null) q = q.where("action", "=", f.action);
  if (f.actor !== undefined && f.actor !== null) q = q.where("actor", "=", f.actor);
  if (f.since !== undefined && f.since !== null) q = q.where("at", ">=", f.since);
  if (f.until !== undefined && f.until !== null) q = q.where("at", "<", f.until);
  return q
    .orderBy("seq", f.order === "desc" ? "desc" : "asc")
    .limit(f.limit)
    .execute();
}
