import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { PostgresPool, PostgresPoolClient } from "kysely";
import pg from "pg";
import { freshDatabase, type FreshDatabase } from "../../../test/fixtures/postgres.ts";
import { ACTOR, tempCore, type TempCore } from "../../../test/fixtures/temp-core.ts";
import { Secret } from "../secret/index.ts";
import { LOCAL_CONTEXT } from "../service/index.ts";
import { DEFERRED_BEGIN, preparedStatementPool } from "./prepared-pool.ts";

/** A role of this test's own (roles are per server; several runs may create it at once). */
const ROLE = "coffer_schema_change_test";
const SELECT = "SELECT * FROM t WHERE id >= $1 ORDER BY id";

type Rows = { rows: Record<string, unknown>[] };
const rowsOf = async (c: PostgresPoolClient, sql: string, params: readonly unknown[]): Promise<Record<string, unknown>[]> =>
  ((await c.query(sql, params)) as unknown as Rows).rows;
const failure = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => "ok",
    (e: unknown) => `${String((e as { code?: unknown }).code)}: ${(e as Error).message}`,
  );

/**
 * Another server migrates (adds a column) while this one runs: a prepared `select *` then
 * fails with "cached plan must not change result type" (SQLSTATE 0A000) on every connection
 * that prepared it, until the statement is prepared again (prepared-pool.ts `named`). Kept
 * connections are reused most recent first, so none ages out by itself.
 */
describe("PostgreSQL prepared statements after a run-time migration", () => {
  let db: FreshDatabase;
  let bare: pg.Client;
  const pools: PostgresPool[] = [];
  let table = 0;

  /** A pool of one connection (so every checkout is the same backend) and a fresh table `t`. */
  const open = async (): Promise<PostgresPool> => {
    table++;
    await bare.query("DROP TABLE IF EXISTS t");
    await bare.query("CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL)");
    await bare.query("INSERT INTO t VALUES (1, 'one'), (2, 'two')");
    await bare.query(`GRANT SELECT ON t TO ${ROLE}`);
    const raw = new pg.Pool({ connectionString: db.url, max: 1 });
    raw.on("error", () => undefined);
    const pool = preparedStatementPool(raw, ROLE, pg.types);
    pools.push(pool);
    return pool;
  };
  const read = async (pool: PostgresPool, sql = SELECT, params: readonly unknown[] = [0]): Promise<Record<string, unknown>[]> => {
    const c = await pool.connect();
    try {
      return await rowsOf(c, sql, params);
    } finally {
      c.release();
    }
  };
  /** A transaction as the store runs one (BEGIN and scope deferred to its first statement). */
  const inTransaction = async <T>(pool: PostgresPool, fn: (c: PostgresPoolClient) => Promise<T>): Promise<T> => {
    const c = await pool.connect();
    try {
      await c.query(DEFERRED_BEGIN, ["on", ""]);
      try {
        const r = await fn(c);
        await c.query("COMMIT", []);
        return r;
      } catch (e) {
        await c.query("ROLLBACK", []);
        throw e;
      }
    } finally {
      c.release();
    }
  };
  /** Another server's migration: adds a column (named after the table's number) and returns its name. */
  const migrate = async (): Promise<string> => {
    const column = `extra${String(table)}`;
    await bare.query(`ALTER TABLE t ADD COLUMN ${column} text NOT NULL DEFAULT 'x'`);
    return column;
  };

  before(async () => {
    db = await freshDatabase();
    bare = new pg.Client({ connectionString: db.url });
    await bare.connect();
    await bare.query(`DO $$ BEGIN CREATE ROLE ${ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
    await bare.query(`GRANT ${ROLE} TO CURRENT_USER`);
  });
  after(async () => {
    for (const p of pools) await Promise.race([p.end().catch(() => undefined), new Promise((r) => setTimeout(r, 5_000))]);
    await bare.end();
    await db.drop();
  });

  it("re-prepares a read that failed because the table changed, and returns the new columns", async () => {
    const pool = await open();
    assert.equal((await read(pool)).length, 2);
    assert.equal((await read(pool)).length, 2); // now without Describe (DescribedRead)
    const column = await migrate();
    const first = await read(pool);
    assert.deepEqual(first[0], { id: "1", name: "one", [column]: "x" });
    const later: string[] = [];
    for (let i = 0; i < 3; i++) later.push(await failure(read(pool)));
    assert.deepEqual(later, ["ok", "ok", "ok"]);
    assert.deepEqual((await read(pool)).at(-1), { id: "2", name: "two", [column]: "x" }, "the row shape was refreshed too");
  });

  it("retries a read once only: a second failure is the error", async () => {
    const pool = await open();
    await bare.query("CREATE SEQUENCE IF NOT EXISTS attempts");
    await bare.query(`GRANT USAGE ON SEQUENCE attempts TO ${ROLE}`);
    // Fails with SQLSTATE 0A000 for x > 0, counting each run (nextval is not rolled back).
    await bare.query(`CREATE OR REPLACE FUNCTION refuse(x int) RETURNS int LANGUAGE plpgsql AS $$
      BEGIN PERFORM nextval('attempts'); IF x > 0 THEN RAISE EXCEPTION 'refused' USING ERRCODE = '0A000'; END IF; RETURN x; END $$`);
    const attempts = async (): Promise<number> =>
      Number((await bare.query<{ last_value: string }>("SELECT last_value FROM attempts")).rows[0]?.last_value);
    const sql = "SELECT refuse($1) AS r";
    assert.deepEqual(await read(pool, sql, [0]), [{ r: 0 }]);
    const before = await attempts();
    assert.equal(await failure(read(pool, sql, [1])), "0A000: refused");
    assert.equal((await attempts()) - before, 2, "run, then prepared again and run once more");
    assert.deepEqual(await read(pool, sql, [0]), [{ r: 0 }], "the connection still works");

    const inTx = await attempts();
    assert.equal(await failure(inTransaction(pool, (c) => rowsOf(c, sql, [1]))), "0A000: refused");
    assert.equal((await attempts()) - inTx, 1, "never retried inside a transaction");
  });

  it("inside a transaction, fails the transaction and prepares the statement again for the next one", async () => {
    const pool = await open();
    const lookup = "SELECT name FROM t WHERE id = $1";
    // Prepared on the connection, with BEGIN and the scope: the next transaction's first
    // statement is pipelined with them (PipelinedBegin), a later one runs on its own.
    for (let i = 0; i < 2; i++) {
      await inTransaction(pool, async (c) => {
        await rowsOf(c, SELECT, [0]);
        await rowsOf(c, lookup, [1]);
        await rowsOf(c, SELECT, [0]);
      });
    }
    const column = await migrate();
    // First statement of the transaction (pipelined with BEGIN).
    assert.match(await failure(inTransaction(pool, (c) => rowsOf(c, SELECT, [0]))), /^0A000: /);
    assert.deepEqual((await inTransaction(pool, (c) => rowsOf(c, SELECT, [0])))[0], { id: "1", name: "one", [column]: "x" });

    await bare.query(`ALTER TABLE t DROP COLUMN ${column}`);
    // A later statement of the transaction (its own round trip): the work before it is rolled back.
    await bare.query(`GRANT UPDATE ON t TO ${ROLE}`);
    const update = "UPDATE t SET name = $1 WHERE id = 1";
    const failed = inTransaction(pool, async (c) => {
      await c.query(update, ["changed"]);
      return rowsOf(c, SELECT, [0]);
    });
    assert.match(await failure(failed), /^0A000: /);
    assert.equal(
      (await bare.query<{ name: string }>("SELECT name FROM t WHERE id = 1")).rows[0]?.name,
      "one",
      "the failed transaction left nothing",
    );
    const again = await inTransaction(pool, async (c) => {
      await c.query(update, ["changed"]);
      return rowsOf(c, SELECT, [0]);
    });
    assert.deepEqual(again[0], { id: "1", name: "changed" });
    // And reads outside a transaction, on the same connection, see the current columns.
    assert.deepEqual((await read(pool)).at(-1), { id: "2", name: "two" });
  });
});

/** The store end to end: a column added to `secrets` by another server leaves this one working. */
describe("PostgreSQL store after a run-time migration", () => {
  let t: TempCore;
  before(async () => {
    t = await tempCore("postgres");
  });
  after(async () => {
    await t.cleanup();
  });

  it("reads and lists secrets after ALTER TABLE secrets ADD COLUMN", async () => {
    const owner = "project/schema-change";
    await t.core.secrets.set(ACTOR, LOCAL_CONTEXT, { owner, key: "K", value: Secret.fromString("v1") });
    for (let i = 0; i < 3; i++) {
      assert.equal((await t.core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner, key: "K" })).version, 1);
      await t.core.secrets.list(ACTOR, LOCAL_CONTEXT, { owner });
    }
    const admin = new pg.Client({ connectionString: t.dbUrl ?? "" });
    await admin.connect();
    try {
      await admin.query("ALTER TABLE secrets ADD COLUMN added_by_a_newer_server text");
      await admin.query("ALTER TABLE secret_versions ADD COLUMN added_by_a_newer_server text");
    } finally {
      await admin.end();
    }
    for (let i = 0; i < 3; i++) {
      assert.equal((await t.core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner, key: "K" })).version, 1);
      assert.equal((await t.core.secrets.list(ACTOR, LOCAL_CONTEXT, { owner })).items.length, 1);
    }
  });
});
