import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import type { PostgresPool, PostgresPoolClient } from "kysely";
import type pg from "pg";

/** At most this many prepared statements per connection; past it, queries go unnamed. */
const MAX_PREPARED_PER_CONNECTION = 256;

type Prepared = { readonly names: Set<string>; sessionScope: string | null; readonly wrapper: PostgresPoolClient };
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
export function preparedStatementPool(pool: pg.Pool, role: string): PostgresPool {
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
      const state = newState(client);
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
function newState(client: pg.PoolClient): Prepared {
  const names = new Set<string>();
  const state: Prepared = {
    names,
    sessionScope: null,
    wrapper: {
      query: (async (sql: string, parameters: readonly unknown[]) => {
        const scope = sessionScope.getStore();
        if (scope !== undefined && state.sessionScope !== scope) await setSessionScope(client, state, scope);
        if (parameters.length === 0) return client.query(sql);
        const name = statementName(sql);
        if (!names.has(name) && names.size >= MAX_PREPARED_PER_CONNECTION) return client.query(sql, [...parameters]);
        names.add(name);
        return client.query({ name, text: sql, values: [...parameters] });
      }) as unknown as PostgresPoolClient["query"],
      // Kysely asks for the client to be destroyed (not reused) when a ROLLBACK failed on it.
      release: (destroy?: boolean) => {
        client.release(destroy === true);
      },
    },
  };
  return state;
}
