import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";
import { rawDb } from "../fixtures/raw-db.ts";

describe("coffer on a SQLite file locked by another writer", () => {
  let cli: CliHarness;
  before(() => {
    cli = new CliHarness({ COFFER_DB_BUSY_TIMEOUT_MS: "200" });
    assert.equal(cli.run(["secrets", "set", "project/busy", "K", "--stdin"], { input: "v1" }).status, 0);
  });
  after(() => {
    cli.cleanup();
  });

  it("gives up after the busy timeout with STORE_BUSY, exit 9, and writes nothing", () => {
    const holder = rawDb(cli.home);
    holder.exec("BEGIN IMMEDIATE");
    try {
      const r = cli.run(["secrets", "set", "project/busy", "K", "--stdin"], { input: "v2" });
      assert.equal(r.status, 9, r.stderr);
      assert.match(r.stderr, /^error\[STORE_BUSY\]: the database is busy \(SQLITE_BUSY\); nothing was written, try again\n$/);
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
    const after = cli.run(["secrets", "get", "project/busy", "K", "--json"]);
    assert.equal((JSON.parse(after.stdout) as { version: number }).version, 1);
  });

  it("refuses an invalid busy timeout naming the variable", () => {
    const r = cli.run(["secrets", "list"], { env: { COFFER_DB_BUSY_TIMEOUT_MS: "soon" } });
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /^error\[CONFIG_INVALID\]: invalid configuration: COFFER_DB_BUSY_TIMEOUT_MS: must be a whole number of milliseconds/,
    );
  });
});
