import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { PostgresPool, PostgresPoolClient } from "kysely";
import pg from "pg";
import { freshDatabase, type FreshDatabase } from "../../../test/fixtures/postgres.ts";
import { preparedStatementPool } from "./prepared-pool.ts";

/** A role of this test's own (roles are per server; several runs may create it at once). */
const ROLE = "coffer_prepared_pool_test";

async function backendPid(client: PostgresPoolClient): Promise<number> {
  const r = (await client.query("SELECT pg_backend_pid() AS pid", [])) as unknown as { rows: { pid: number }[] };
  const pid = r.rows[0]?.pid;
  assert.equal(typeof pid, "number");
  return pid as number;
}

/**
 * Connections handed back are kept out of pg-pool for the next checkout (prepared-pool.ts
 * `Parking`): that must not change what callers get — a working connection as the role, no
 * caller left waiting while one is kept, a dead one never reused, and the pool still ends.
 */
describe("prepared statement pool: kept connections", () => {
  let db: FreshDatabase;
  let admin: pg.Client;
  const pools: PostgresPool[] = [];

  const open = (max: number): { raw: pg.Pool; pool: PostgresPool } => {
    const raw = new pg.Pool({ connectionString: db.url, max, idleTimeoutMillis: 30_000 });
    raw.on("error", () => undefined);
    const pool = preparedStatementPool(raw, ROLE, pg.types);
    pools.push(pool);
    return { raw, pool };
  };

  before(async () => {
    db = await freshDatabase();
    admin = new pg.Client({ connectionString: db.url });
    admin.on("error", () => undefined);
    await admin.connect();
    await admin.query(`DO $$ BEGIN CREATE ROLE ${ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
    await admin.query(`GRANT ${ROLE} TO CURRENT_USER`);
  });

  after(async () => {
    // Bounded: a pool whose connection a failed test left checked out would wait for it forever.
    for (const p of pools) await Promise.race([p.end().catch(() => undefined), sleep(5_000)]);
    await admin.end();
    await db.drop();
  });

  it("hands the same connection out again, as the role", async () => {
    const { pool } = open(2);
    const a = await pool.connect();
    const pid = await backendPid(a);
    a.release();
    const b = await pool.connect();
    assert.equal(await backendPid(b), pid);
    const r = (await b.query("SELECT current_user AS u", [])) as unknown as { rows: { u: string }[] };
    assert.equal(r.rows[0]?.u, ROLE);
    b.release();
  });

  it("never hands out a connection that ended while kept", async () => {
    const { pool } = open(1);
    const a = await pool.connect();
    const pid = await backendPid(a);
    a.release();
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    // The kept client sees its socket close (an error or end event) shortly after.
    for (let i = 0; i < 100; i++) {
      const rows = (await admin.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid])).rows;
      if (rows.length === 0) break;
      await sleep(20);
    }
    await sleep(50);
    const b = await pool.connect();
    const next = await backendPid(b);
    assert.notEqual(next, pid);
    b.release();
  });

  it("hands a connection back to a caller waiting in pg-pool, not to the keep", { timeout: 20_000 }, async () => {
    const { raw, pool } = open(1);
    const a = await pool.connect();
    const waiting = pool.connect();
    for (let i = 0; i < 100 && raw.waitingCount === 0; i++) await sleep(5);
    assert.equal(raw.waitingCount, 1);
    a.release();
    // pg-pool gives a returned connection to its first waiter at once.
    assert.equal(raw.waitingCount, 0, "the waiting caller got the connection");
    const b = await waiting;
    await backendPid(b);
    b.release();
  });

  it("ends with connections kept, and returns unused ones to pg-pool", async () => {
    const { raw, pool } = open(2);
    const a = await pool.connect();
    await backendPid(a);
    a.release();
    assert.equal(raw.idleCount, 0, "kept, still checked out of pg-pool");
    const idle = (): number => raw.idleCount;
    for (let i = 0; i < 200 && idle() === 0; i++) await sleep(25);
    assert.equal(idle(), 1, "back in pg-pool after a while unused");
    const b = await pool.connect();
    await backendPid(b);
    b.release();
    await pool.end();
    assert.equal(raw.totalCount, 0);
  });
});
