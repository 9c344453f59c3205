import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { CliHarness } from "../fixtures/cli.ts";
import { freshDatabase, type FreshDatabase } from "../fixtures/postgres.ts";

const CANARY = "CANARY-pg-5b1d2e-do-not-leak";

describe("coffer CLI on PostgreSQL (real child processes, real server)", () => {
  let db: FreshDatabase;
  let cli: CliHarness;
  before(async () => {
    db = await freshDatabase();
    cli = new CliHarness({ COFFER_DB_URL: db.url });
  });
  after(async () => {
    cli.cleanup();
    await db.drop();
  });

  it("refuses to run before the schema is migrated, naming the fix", () => {
    const r = cli.run(["secrets", "list"]);
    assert.equal(r.status, 8);
    assert.match(r.stderr, /^error\[MIGRATIONS_PENDING\]: .*0001-initial.*run: coffer migrate/);
  });

  it("migrates with coffer migrate, and then reports it up to date", () => {
    const status = cli.run(["migrate", "--status"]);
    assert.match(
      status.stdout,
      /postgres: 0 applied, pending: 0001-initial, 0002-rotation-jobs, 0003-server, 0004-integrity, 0005-leases, 0006-templates, 0007-console-sessions, 0008-state-mac-format-2/,
    );
    const r = cli.run(["migrate"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      r.stdout,
      "postgres: applied 0001-initial, 0002-rotation-jobs, 0003-server, 0004-integrity, 0005-leases, 0006-templates, 0007-console-sessions, 0008-state-mac-format-2\n",
    );
    assert.equal(cli.run(["migrate"]).stdout, "postgres: schema is up to date\n");
  });

  it("stores, reveals and injects secrets with the same output as on SQLite", () => {
    const set = cli.run(["secrets", "set", "project/pg", "DB_PASSWORD", "--stdin", "--meta", "provider=pg"], { input: `${CANARY}\n` });
    assert.equal(set.status, 0, set.stderr);
    assert.equal(set.stdout, "project/pg DB_PASSWORD v1 ******** provider=pg\n");
    assert.equal(cli.run(["secrets", "get", "project/pg", "DB_PASSWORD", "--reveal", "--yes", "--reason", "pg check"]).stdout, CANARY);
    const run = cli.run([
      "run",
      "--owner",
      "project/pg",
      "--",
      process.execPath,
      "-e",
      `process.exit(process.env.DB_PASSWORD === "${CANARY}" ? 0 : 9)`,
    ]);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(cli.run(["audit", "verify"]).status, 0);
    cli.transcript.length = 0;
  });

  it("takes the database from --db as well, and refuses a server without the master key", () => {
    const other = new CliHarness();
    try {
      const noKey = other.run(["--db", db.url, "secrets", "list"]);
      assert.equal(noKey.status, 4);
      assert.match(
        noKey.stderr,
        /^error\[KEY_NOT_FOUND\]: master key file .* is missing, but this database holds data wrapped by kid 'primary'/,
      );
      const r = other.run(["--home", cli.home, "--db", db.url, "secrets", "list", "--json"]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(
        (JSON.parse(r.stdout) as { key: string }[]).map((s) => s.key),
        ["DB_PASSWORD"],
      );
    } finally {
      other.cleanup();
    }
  });

  it("rejects a database URL that is neither postgres:// nor sqlite:", () => {
    const r = cli.run(["--db", "mysql://x", "secrets", "list"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^error\[CONFIG_INVALID\]: --db: must be postgres:\/\/… or sqlite:<path>/);
  });

  it("keeps the canary out of every table of the database and out of all output", async () => {
    cli.run(["secrets", "list", "--meta"]);
    cli.run(["audit", "list", "--json"]);
    assert.ok(!cli.allOutput().includes(CANARY));
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const tables = (await c.query<{ tablename: string }>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).rows.map(
        (r) => r.tablename,
      );
      assert.ok(tables.includes("secret_versions"));
      for (const table of tables) {
        const rows = await c.query(
          `SELECT count(*)::int AS n FROM ${c.escapeIdentifier(table)} t WHERE t::text LIKE $1 OR encode(convert_to(t::text, 'UTF8'), 'hex') LIKE $2`,
          [`%${CANARY}%`, `%${Buffer.from(CANARY).toString("hex")}%`],
        );
        assert.equal((rows.rows[0] as { n: number }).n, 0, table);
      }
    } finally {
      await c.end();
    }
  });
});

describe("coffer CLI with an unreachable PostgreSQL", () => {
  it("exits 9 with STORE_UNAVAILABLE and no stack trace", () => {
    const cli = new CliHarness({ COFFER_DB_URL: "postgres://coffer:pw@127.0.0.1:1/coffer" });
    try {
      const r = cli.run(["secrets", "list"]);
      assert.equal(r.status, 9);
      assert.match(r.stderr, /^error\[STORE_UNAVAILABLE\]: cannot reach the database \(ECONNREFUSED\)\n$/);
      assert.ok(!r.stderr.includes("pw@"));
    } finally {
      cli.cleanup();
    }
  });
});
