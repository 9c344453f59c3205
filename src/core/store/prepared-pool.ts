import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import type { PostgresPool, PostgresPoolClient } from "kysely";
import type pg from "pg";
import { BEGIN_STATEMENT, DescribedRead, PipelinedBegin, rowShapeOf, TX_SCOPE_STATEMENT, type RowShape } from "./pg-pipeline.ts";

/** At most this many prepared statements per connection; past it, queries go unnamed. */
const MAX_PREPARED_PER_CONNECTION = 256;

type Prepared = {
  /** Statement names sent on this connection (a Parse was sent for each). */
  readonly names: Set<string>;
  /** Statement names that have run successfully on this connection, so are surely prepared there. */
  readonly parsed: Set<string>;
  /** Their result columns, from that first run: later runs skip Describe (pg-pipeline.ts `DescribedRead`). */
  readonly shapes: Map<string, RowShape>;
  /** Statements forgotten after a plan change, still prepared on the server: deallocated before the name is prepared again. */
  readonly stale: Set<string>;
  sessionScope: string | null;
  /** A transaction's BEGIN and owner scope, not sent yet: they go with its first statement. */
  pendingBegin: readonly [all: string, owners: string] | null;
  /** An error or end event was seen on the connection: it is not handed out again. */
  broken: boolean;
  /** Handed out and not released yet: a second release of one checkout throws, as pg-pool's does. */
  out: boolean;
  readonly client: pg.PoolClient;
  readonly wrapper: PostgresPoolClient;
};
const prepared = new WeakMap<pg.PoolClient, Prepared>();

/** Statement names by SQL text: Coffer's texts are a fixed set, so this stays small (and is capped). */
const names = new Map<string, string>();
const MAX_NAMES = 1024;

function statementName(sql: string): string {
  let name = names.get(sql);
  if (name === undefined) {
    name = `coffer_${createHash("sha1").update(sql).digest("hex")}`;
    if (names.size < MAX_NAMES) names.set(sql, name);
  }
  return name;
}

/**
 * The statement that opens a transaction with its owner scope (`all`, `owners` as parameters).
 * The pool does not send it by itself: it sends BEGIN and the transaction-local scope together
 * with the transaction's first statement, in one round trip (pg-pipeline.ts). A transaction
 * that ends before any statement has nothing to commit or roll back, and costs no round trip.
 */
export const DEFERRED_BEGIN = "-- coffer: BEGIN and set_config(…, true), sent with the first statement";
const COMMIT = "COMMIT";
const ROLLBACK = "ROLLBACK";

/**
 * The session-level owner scope (`all|owners`) that the queries of the current read need.
 * Set by the store's `read()`; a query run outside any read (inside a transaction, which sets
 * its own transaction-local scope) sees none.
 */
export const sessionScope = new AsyncLocalStorage<string>();

/**
 * Sets the owner scope for the rest of the session (autocommit, outside any transaction), and
 * remembers it per connection so the next read with the same scope costs no round trip. A
 * transaction's own `set_config(…, true)` reverts to this value when it ends, so the cache
 * stays true; if setting fails, the cache is cleared and the next read sets it again.
 */
async function setSessionScope(client: pg.PoolClient, state: Prepared, scope: string): Promise<void> {
  state.sessionScope = null;
  const [all = "off", owners = ""] = scope.split("|");
  await client.query({
    name: "coffer_session_scope",
    text: "SELECT set_config('coffer.all_owners', $1, false), set_config('coffer.owners', $2, false)",
    values: [all, owners],
  });
  state.sessionScope = scope;
}

/**
 * A pg pool for Kysely (and the store's direct reads, pg-direct.ts) whose connections run as
 * `role`, and whose parameterised queries run as named (prepared) statements, one per distinct
 * SQL text and connection. Kysely sends every query unnamed, so PostgreSQL parsed and planned
 * each one on every call: measured at about 90 µs of a 94 µs lookup here. Coffer's SQL texts
 * are a fixed set, so the statements per connection stay few (and are capped). Parameterless
 * queries (BEGIN; set_config…, COMMIT) keep the simple protocol, which allows several
 * statements in one round trip.
 *
 * `SET ROLE` runs here, once per connection, the first time the pool hands it out, before any
 * other statement; a connection on which it fails is destroyed, never handed out. (Kysely's
 * `onCreateConnection` would miss connections used by the direct path.)
 *
 * Also listens for errors on checked-out clients: pg-pool removes its listener while a
 * client is out, and a connection dropped mid-query would otherwise crash the process with
 * an unhandled 'error' event instead of failing the query.
 */
export function preparedStatementPool(pool: pg.Pool, role: string, types: pg.CustomTypesConfig): PostgresPool {
  if (!/^[a-z_][a-z0-9_]*$/.test(role)) throw new Error("preparedStatementPool: role must be a plain lower-case identifier");
  const parking = new Parking(pool);
  return {
    connect: async (): Promise<PostgresPoolClient> => {
      const kept = parking.take();
      if (kept !== null) return checkout(kept);
      const client = await pool.connect();
      const known = prepared.get(client);
      if (known !== undefined) return checkout(known);
      client.on("error", () => undefined);
      try {
        await client.query(`SET ROLE ${role}`);
      } catch (e) {
        client.release(true);
        throw e;
      }
      const state = newState(client, types, parking);
      prepared.set(client, state);
      return checkout(state);
    },
    end: async () => {
      parking.close();
      await pool.end();
    },
    options: pool.options,
  };
}

function checkout(state: Prepared): PostgresPoolClient {
  state.out = true;
  return state.wrapper;
}

/** The message pg-pool throws on a second release of one checkout. */
const DOUBLE_RELEASE = "Release called on client which has already been released to the pool.";

/** How long a handed-back connection stays out of pg-pool, unused, before it goes back to it. */
const PARK_IDLE_MS = 1_000;

/**
 * Connections handed back while nobody waits for one are kept here, still checked out of
 * pg-pool, and handed out again first: pg-pool's checkout and return cost a promise, its
 * queue, an idle-timeout timer set and cleared, and an error listener added and removed, on
 * every read. The pool's limits hold as before: a kept connection is one of pg-pool's checked
 * out ones; a connection handed back while a caller waits in pg-pool's queue goes straight to
 * pg-pool (so no caller waits while one is kept); one unused for `PARK_IDLE_MS` goes back to
 * pg-pool, whose idle timeout then applies as before; one that failed or ended (an error
 * event, a server restart) is never handed out again, but destroyed, as pg-pool does.
 *
 * Only an idle connection is kept or returned to pg-pool: PostgreSQL's last ReadyForQuery said
 * "idle" (not in a transaction block, which would carry one holder's transaction-local owner
 * scope into the next holder's work), nothing is running or queued on it. One handed back with
 * a statement still running (an error settles its caller before the server's ReadyForQuery) is
 * judged when the statement ends; one left in a transaction is destroyed. A checkout is
 * released once: a second release throws (pg-pool's message), so one connection is never kept
 * twice and handed to two holders.
 */
class Parking {
  readonly #pool: pg.Pool;
  readonly #kept: { readonly state: Prepared; readonly since: number }[] = [];
  #sweeper: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** The most recently handed back usable connection, or null. */
  take(): Prepared | null {
    for (let k = this.#kept.pop(); k !== undefined; k = this.#kept.pop()) {
      if (usable(k.state)) return k.state;
      k.state.client.release(true);
    }
    return null;
  }

  /** A connection handed back by its user (Kysely, or the direct path), once per checkout. */
  handBack(state: Prepared, destroy: boolean): void {
    if (!state.out) throw new Error(DOUBLE_RELEASE);
    state.out = false;
    this.#settle(state, destroy);
  }

  #settle(state: Prepared, destroy: boolean): void {
    const client = state.client;
    if (destroy || !usable(state)) {
      client.release(true);
      return;
    }
    if (busy(client)) {
      this.#whenDone(state);
      return;
    }
    if (!idle(client)) {
      // In a transaction block (or no status known): never handed to anyone else.
      client.release(true);
      return;
    }
    if (this.#closed || this.#pool.waitingCount > 0) {
      client.release();
      return;
    }
    this.#kept.push({ state, since: performance.now() });
    if (this.#sweeper === null) {
      this.#sweeper = setInterval(() => {
        this.#sweep();
      }, PARK_IDLE_MS);
      this.#sweeper.unref();
    }
  }

  /** Settles a connection handed back while a statement still runs on it once that ends (or the connection does). */
  #whenDone(state: Prepared): void {
    const client = state.client;
    const done = (): void => {
      client.off("drain", done);
      client.off("end", done);
      client.off("error", done);
      this.#settle(state, false);
    };
    client.on("drain", done);
    client.on("end", done);
    client.on("error", done);
  }

  /** Returns every kept connection to pg-pool (before pg-pool ends, which waits for checked-out ones). */
  close(): void {
    this.#closed = true;
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    this.#sweeper = null;
    for (const k of this.#kept.splice(0)) k.state.client.release(!usable(k.state));
  }

  #sweep(): void {
    const cutoff = performance.now() - PARK_IDLE_MS;
    // Kept in hand-back order: the oldest first.
    let n = 0;
    while (n < this.#kept.length && (this.#kept[n]?.since ?? Infinity) <= cutoff) n++;
    for (const k of this.#kept.splice(0, n)) k.state.client.release(!usable(k.state));
  }
}

/** Whether a connection may be handed out again: no error seen, not ending, pg still queryable. */
function usable(state: Prepared): boolean {
  const c = state.client as pg.PoolClient & { _queryable?: boolean; _ending?: boolean };
  return !state.broken && c._queryable !== false && c._ending !== true;
}

type ClientInternals = pg.PoolClient & { readyForQuery?: boolean; _queryQueue?: readonly unknown[]; _txStatus?: string | null };

/** A statement is running or queued on the client: its transaction status is not final yet. */
function busy(client: pg.PoolClient): boolean {
  const c = client as ClientInternals;
  return c.readyForQuery !== true || (c._queryQueue?.length ?? 0) > 0;
}

/** PostgreSQL's last ReadyForQuery said idle: not in a transaction block, failed or not. */
function idle(client: pg.PoolClient): boolean {
  const c = client as ClientInternals;
  const status: unknown = typeof c.getTransactionStatus === "function" ? c.getTransactionStatus() : c._txStatus;
  return status === "I";
}

/** "cached plan must not change result type": a prepared statement whose table changed (another server's migration). */
function planChanged(e: unknown): boolean {
  return e instanceof Error && (e as { code?: unknown }).code === "0A000";
}

/**
 * The per-connection state and the one wrapper handed out for a pg client, for as long as the
 * client lives. Kysely knows its connections by that object: a fresh one per checkout would be
 * a "new connection" to it each time.
 */
function newState(client: pg.PoolClient, types: pg.CustomTypesConfig, parking: Parking): Prepared {
  const names = new Set<string>();
  const parsed = new Set<string>();
  const shapes = new Map<string, RowShape>();
  const stale = new Set<string>();
  /**
   * Forgets a prepared statement whose run failed because its plan changed (a column added by
   * another server's migration, say): PostgreSQL keeps failing it on this connection until it
   * is prepared again. The name, its parsed state (here and in pg's connection, which would
   * otherwise skip the Parse) and its row shape go; the server's statement is deallocated
   * before the name is next prepared (not now: inside a failed transaction nothing but its end
   * may run). If pg's record cannot be reached, the connection is not reused instead.
   */
  const forget = (name: string): void => {
    names.delete(name);
    parsed.delete(name);
    shapes.delete(name);
    stale.add(name);
    const connection = (client as unknown as { connection?: { parsedStatements?: unknown; submittedNamedStatements?: unknown } })
      .connection;
    const records = [connection?.parsedStatements, connection?.submittedNamedStatements];
    for (const r of records) {
      if (typeof r === "object" && r !== null) Reflect.deleteProperty(r, name);
      else state.broken = true;
    }
  };
  /** One run of a named statement; without Describe once its columns are known. */
  const runNamed = async (name: string, text: string, values: readonly unknown[]): Promise<pg.QueryResult> => {
    const shape = shapes.get(name);
    if (shape !== undefined) {
      const q = new DescribedRead(name, values, shape);
      void client.query(q as unknown as pg.QueryConfig);
      return q.result;
    }
    if (stale.has(name)) {
      // Statement names are `coffer_` and hex digits, or the fixed ones above: plain identifiers.
      await client.query(`DEALLOCATE ${name}`);
      stale.delete(name);
    }
    names.add(name);
    const r = await client.query({ name, text, values: [...values] });
    parsed.add(name);
    const described = rowShapeOf(r.fields, types);
    if (described !== null) shapes.set(name, described);
    return r;
  };
  /**
   * A named statement, remembered as prepared once it has run, with its result columns; once
   * both are known it runs without Describe. If its plan changed since (SQLSTATE 0A000), it is
   * forgotten; outside a transaction (`retry`) it is prepared and run once more (the failed run
   * changed nothing) and a second failure is the error; inside one the transaction has failed,
   * so the error goes to its caller and the next unit of work prepares the statement again.
   */
  const named = async (name: string, text: string, values: readonly unknown[], retry: boolean): Promise<pg.QueryResult> => {
    try {
      return await runNamed(name, text, values);
    } catch (e) {
      if (!planChanged(e) || !parsed.has(name)) throw e;
      forget(name);
      if (!retry || state.broken) throw e;
    }
    try {
      return await runNamed(name, text, values);
    } catch (e) {
      if (planChanged(e) && parsed.has(name)) forget(name);
      throw e;
    }
  };
  /** BEGIN and the scope on their own (two round trips): the first time on a connection, or before an unprepared statement. */
  const beginAlone = async (scope: readonly [string, string]): Promise<void> => {
    await named(BEGIN_STATEMENT.name, BEGIN_STATEMENT.text, [], false);
    await named(TX_SCOPE_STATEMENT.name, TX_SCOPE_STATEMENT.text, scope, false);
  };
  /**
   * A statement after any deferred BEGIN. `autocommit`: the connection was idle, so the
   * statement runs in a transaction of its own, which a failure leaves nothing of.
   */
  const run = async (sql: string, parameters: readonly unknown[], autocommit: boolean): Promise<pg.QueryResult> => {
    const scope = sessionScope.getStore();
    if (scope !== undefined && state.sessionScope !== scope) await setSessionScope(client, state, scope);
    if (parameters.length === 0) return client.query(sql);
    const name = statementName(sql);
    if (!names.has(name) && names.size >= MAX_PREPARED_PER_CONNECTION) return client.query(sql, [...parameters]);
    return named(name, sql, parameters, autocommit);
  };
  const state: Prepared = {
    names,
    parsed,
    shapes,
    sessionScope: null,
    pendingBegin: null,
    stale,
    broken: false,
    out: false,
    client,
    wrapper: {
      query: (async (sql: string, parameters: readonly unknown[]) => {
        if (sql === DEFERRED_BEGIN) {
          const [all, owners] = parameters;
          if (typeof all !== "string" || typeof owners !== "string") throw new Error("DEFERRED_BEGIN takes the scope as two strings");
          state.pendingBegin = [all, owners];
          return { command: "BEGIN", rowCount: null, rows: [] };
        }
        const pending = state.pendingBegin;
        if (pending !== null) {
          state.pendingBegin = null;
          // Nothing was sent: there is no transaction on the server to end.
          if (sql === COMMIT || sql === ROLLBACK) return { command: sql, rowCount: null, rows: [] };
          const name = parameters.length === 0 ? null : statementName(sql);
          if (name !== null && parsed.has(name) && parsed.has(BEGIN_STATEMENT.name) && parsed.has(TX_SCOPE_STATEMENT.name)) {
            const q = new PipelinedBegin(pending, { name, text: sql, values: parameters }, types);
            void client.query(q as unknown as pg.QueryConfig);
            return q.result.catch((e: unknown) => {
              // The transaction failed with it: forgotten, not retried (see `named`).
              if (planChanged(e) && parsed.has(name)) forget(name);
              throw e;
            });
          }
          await beginAlone(pending);
          return run(sql, parameters, false);
        }
        return run(sql, parameters, !busy(client) && idle(client));
      }) as unknown as PostgresPoolClient["query"],
      // Kysely asks for the client to be destroyed (not reused) when a ROLLBACK failed on it.
      // A second release of one checkout throws (pg-pool's message) and changes nothing.
      release: (destroy?: boolean) => {
        state.pendingBegin = null;
        parking.handBack(state, destroy === true);
      },
    },
  };
  // pg-pool removes its own listener while a client is out (and kept ones are out): a
  // connection dropped meanwhile must not crash the process; it is marked and not reused.
  const broken = (): void => {
    state.broken = true;
  };
  client.on("error", broken);
  client.on("end", broken);
  return state;
}
