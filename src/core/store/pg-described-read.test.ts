import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { freshDatabase, type FreshDatabase } from "../../../test/fixtures/postgres.ts";
import { DescribedRead } from "./pg-pipeline.ts";
import { preparedStatementPool } from "./prepared-pool.ts";

/** A role of this test's own (roles are per server; several runs may create it at once). */
const ROLE = "coffer_described_read_test";

const TABLE = `CREATE TABLE t (
  id bigint PRIMARY KEY, name text NOT NULL, n integer, meta jsonb NOT NULL,
  at timestamptz NOT NULL, gone timestamptz, mac bytea, flag boolean NOT NULL)`;
const ROWS = `INSERT INTO t VALUES
  (1, 'one', 7, '{"a":1}', '2026-12-02 15:28:40.037+00', NULL, '\\x0102ff', true),
  (2, 'two', NULL, '[]', '2026-12-02 15:28:41+00', '2026-12-03 00:00:00+00', NULL, false)`;
const SELECT = "SELECT * FROM t WHERE id >= $1 ORDER BY id";

/**
 * The pool runs a prepared statement's second and later runs as `DescribedRead` (Bind, Execute,
 * Sync, no Describe) with the columns of its first run: the rows, command and row count must be
 * exactly what pg's own Query gives, and an error must fail the call and leave the connection usable.
 */
describe("PostgreSQL prepared statements without Describe", () => {
  let db: FreshDatabase;
  let pool: pg.Pool;
  let bare: pg.Client;
  /** The query objects pg clients received, by class name, while the spy is on. */
  const submitted: string[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be put back, and called with the client as `this`.
  const originalQuery = pg.Client.prototype.query;

  before(async () => {
    db = await freshDatabase();
    bare = new pg.Client({ connectionString: db.url });
    await bare.connect();
    await bare.query(`DO $$ BEGIN CREATE ROLE ${ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
    await bare.query(`GRANT ${ROLE} TO CURRENT_USER`);
    await bare.query(TABLE);
    await bare.query(ROWS);
    await bare.query(`GRANT SELECT, UPDATE ON t TO ${ROLE}`);
    pool = new pg.Pool({ connectionString: db.url, max: 1 });
    // As the store's pool: an idle client's error (the drop below ends its backend) is not the test's.
    pool.on("error", () => undefined);
    const spy = function (this: pg.Client, ...args: unknown[]): unknown {
      const config = args[0];
      submitted.push(typeof config === "object" && config !== null ? config.constructor.name : typeof config);
      return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
    };
    pg.Client.prototype.query = spy as typeof originalQuery;
  });

  after(async () => {
    pg.Client.prototype.query = originalQuery;
    await pool.end();
    await bare.end();
    await db.drop();
  });

  const run = async (text: string, params: readonly unknown[]): Promise<{ rows: unknown[]; command: string; rowCount: number | null }> => {
    const client = await preparedStatementPool(pool, ROLE, pg.types).connect();
    try {
      const r = (await client.query(text, params)) as unknown as { rows: unknown[]; command: string; rowCount: number | null };
      return { rows: r.rows, command: r.command, rowCount: r.rowCount };
    } finally {
      client.release();
    }
  };

  it("gives the same rows as pg's Query, run after run", async () => {
    const expected = (await bare.query(SELECT, [1])).rows;
    assert.equal(expected.length, 2);
    submitted.length = 0;
    for (let i = 0; i < 3; i++) {
      const r = await run(SELECT, [1]);
      assert.deepEqual(r.rows, expected);
      assert.equal(r.command, "SELECT");
      assert.equal(r.rowCount, 2);
    }
    // The first run described the statement (pg's Query); the later ones did not.
    assert.equal(submitted.filter((n) => n === DescribedRead.name).length, 2, submitted.join(","));
    assert.deepEqual((await run(SELECT, [3])).rows, []);
    assert.deepEqual((await run(SELECT, ["2"])).rows, (await bare.query(SELECT, [2])).rows);
  });

  it("reports an update's command and row count as pg does", async () => {
    const update = "UPDATE t SET n = n WHERE id <= $1";
    for (const [bound, count] of [
      [2, 2],
      [1, 1],
      [0, 0],
    ] as const) {
      const r = await run(update, [bound]);
      assert.equal(r.command, "UPDATE");
      assert.equal(r.rowCount, count);
      assert.deepEqual(r.rows, []);
    }
  });

  it("fails the call on an error and keeps the connection usable", async () => {
    const divide = "SELECT 10 / $1::int AS q";
    assert.deepEqual((await run(divide, [5])).rows, [{ q: 2 }]);
    submitted.length = 0;
    await assert.rejects(run(divide, [0]), (e: unknown) => (e as { code?: unknown }).code === "22012");
    assert.ok(submitted.includes(DescribedRead.name), submitted.join(","));
    assert.deepEqual((await run(divide, [2])).rows, [{ q: 5 }]);
    assert.deepEqual((await run(SELECT, [2])).rows, (await bare.query(SELECT, [2])).rows);
  });
});
