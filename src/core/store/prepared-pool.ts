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
  sessionScope: string | null;
  /** A transaction's BEGIN and owner scope, not sent yet: they go with its first statement. */
  pendingBegin: readonly [all: string, owners: string] | null;
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
  return {
    connect: async (): Promise<PostgresPoolClient> => {
      const client = await pool.connect();
      const known = prepared.get(client);
      if (known !== undefined) return known.wrapper;
      client.on("error", () => undefined);
      try {
        await client.query(`SET ROLE ${role}`);
      } catch (e) {
        client.release(true);
        throw e;
      }
      const state = newState(client, types);
      prepared.set(client, state);
      return state.wrapper;
    },
    end: () => pool.end(),
    options: pool.options,
  };
}

/**
 * The per-connection state and the one wrapper handed out for a pg client, for as long as the
 * client lives. Kysely knows its connections by that object: a fresh one per checkout would be
 * a "new connection" to it each time.
 */
function newState(client: pg.PoolClient, types: pg.CustomTypesConfig): Prepared {
  const names = new Set<string>();
  const parsed = new Set<string>();
  const shapes = new Map<string, RowShape>();
  /**
   * A named statement, remembered as prepared once it has run, with its result columns; once
   * both are known it runs without Describe.
   */
  const named = async (name: string, text: string, values: readonly unknown[]): Promise<pg.QueryResult> => {
    const shape = shapes.get(name);
    if (shape !== undefined) {
      const q = new DescribedRead(name, values, shape);
      void client.query(q as unknown as pg.QueryConfig);
      return q.result;
    }
    names.add(name);
    const r = await client.query({ name, text, values: [...values] });
    parsed.add(name);
    const described = rowShapeOf(r.fields, types);
    if (described !== null) shapes.set(name, described);
    return r;
  };
  /** BEGIN and the scope on their own (two round trips): the first time on a connection, or before an unprepared statement. */
  const beginAlone = async (scope: readonly [string, string]): Promise<void> => {
    await named(BEGIN_STATEMENT.name, BEGIN_STATEMENT.text, []);
    await named(TX_SCOPE_STATEMENT.name, TX_SCOPE_STATEMENT.text, scope);
  };
  const state: Prepared = {
    names,
    parsed,
    shapes,
    sessionScope: null,
    pendingBegin: null,
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
            return q.result;
          }
          await beginAlone(pending);
        }
        const scope = sessionScope.getStore();
        if (scope !== undefined && state.sessionScope !== scope) await setSessionScope(client, state, scope);
        if (parameters.length === 0) return client.query(sql);
        const name = statementName(sql);
        if (!names.has(name) && names.size >= MAX_PREPARED_PER_CONNECTION) return client.query(sql, [...parameters]);
        return named(name, sql, parameters);
      }) as unknown as PostgresPoolClient["query"],
      // Kysely asks for the client to be destroyed (not reused) when a ROLLBACK failed on it.
      release: (destroy?: boolean) => {
        state.pendingBegin = null;
        client.release(destroy === true);
      },
    },
  };
  return state;
}
