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

  it("refuses a second release of one checkout, and never hands one connection to two holders", async () => {
    const { pool } = open(2);
    const a = await pool.connect();
    await backendPid(a);
    a.release();
    assert.throws(() => {
      a.release();
    }, /^Error: Release called on client which has already been released to the pool\.$/);
    assert.throws(() => {
      a.release(true);
    }, /already been released/);
    const b = await pool.connect();
    const c = await pool.connect();
    assert.notEqual(b, c);
    assert.notEqual(await backendPid(b), await backendPid(c));
    b.release();
    c.release();
  });

  it("never keeps a connection handed back inside a transaction", async () => {
    const { raw, pool } = open(1);
    const a = await pool.connect();
    const pid = await backendPid(a);
    await a.query("BEGIN", []);
    await a.query("SELECT set_config('coffer.owners', $1, true)", ["a-holder's scope"]);
    a.release();
    // Destroyed, not kept nor returned to pg-pool.
    assert.equal(raw.totalCount, 0);
    const b = await pool.connect();
    assert.notEqual(await backendPid(b), pid);
    const r = (await b.query("SELECT current_setting('coffer.owners', true) AS o", [])) as unknown as { rows: { o: string | null }[] };
    assert.notEqual(r.rows[0]?.o, "a-holder's scope");
    b.release();
  });

  it("judges a connection handed back with a statement still running once that ends", async () => {
    const { raw, pool } = open(1);
    const a = await pool.connect();
    const pid = await backendPid(a);
    // pg settles a failed statement on the server's error, before its ReadyForQuery; here the
    // statement is still running for certain when the connection is handed back.
    const failing = a.query("SELECT pg_sleep(0.05), 1 / $1::int AS x", [0]);
    a.release();
    await assert.rejects(failing, /division by zero/);
    const b = await pool.connect();
    assert.equal(await backendPid(b), pid, "idle once it ended: kept");
    // Handed back while a BEGIN runs: in a transaction once it ends, so destroyed.
    const begun = b.query("BEGIN", []);
    b.release();
    await begun;
    for (let i = 0; i < 100 && raw.totalCount > 0; i++) await sleep(5);
    assert.equal(raw.totalCount, 0, "destroyed");
    const c = await pool.connect();
    assert.notEqual(await backendPid(c), pid);
    c.release();
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
