import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Kysely, SqliteDialect } from "kysely";
import SqliteDatabase from "better-sqlite3";
import { definedColumns, prebuiltSql } from "./prebuilt.ts";
import type { Database } from "./schema.ts";

describe("prebuilt statements", () => {
  let dir: string;
  let db: Kysely<Database>;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "coffer-prebuilt-"));
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new SqliteDatabase(join(dir, "p.db")) }) });
  });
  after(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("builds the SQL once per shape and reuses it", () => {
    let builds = 0;
    const build = (id: number) => () => {
      builds++;
      return db.updateTable("secrets").set({ meta: "{}" }).where("id", "=", id).compile();
    };
    const first = prebuiltSql(db, "test:update-meta", ["{}", 1], build(1));
    const again = prebuiltSql(db, "test:update-meta", ["{}", 2], build(2));
    assert.equal(first, again);
    assert.equal(builds, 1);
  });

  it("refuses parameters in another order than the query builder's (fails loudly on first build)", () => {
    assert.throws(
      () =>
        prebuiltSql(db, "test:wrong-order", [7, "{}"], () => db.updateTable("secrets").set({ meta: "{}" }).where("id", "=", 7).compile()),
      /parameters differ from the query builder's/,
    );
  });

  it("leaves out the columns whose value is undefined, as the query builder does", () => {
    const row = { a: 1, b: undefined, c: null };
    assert.deepEqual(definedColumns(row), ["a", "c"]);
  });
});
