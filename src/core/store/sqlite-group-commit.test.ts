import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import SqliteDatabase from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { SqliteGroupCommit } from "./sqlite-group-commit.ts";
import type { Database } from "./schema.ts";

// The module is not wired into the SQLite store (see its header): it is tested on a connection
// of its own here.
describe("SQLite group commit (statements)", () => {
  let dir: string;
  let raw: SqliteDatabase.Database;
  let db: Kysely<Database>;
  const log: string[] = [];
  let group: SqliteGroupCommit;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "coffer-group-raw-"));
    raw = new SqliteDatabase(join(dir, "g.db"));
    raw.pragma("journal_mode = WAL");
    raw.exec("CREATE TABLE t (k TEXT PRIMARY KEY)");
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    group = new SqliteGroupCommit({
      withConnection: (work) => db.connection().execute(work),
      run: (text) => {
        log.push(text);
        raw.prepare(text).run();
      },
      inTransaction: () => raw.inTransaction,
    });
  });
  after(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("units started in one turn share one BEGIN IMMEDIATE … COMMIT, each in its own savepoint", async () => {
    const insert = (k: string) => group.run(() => Promise.resolve(raw.prepare("INSERT INTO t (k) VALUES (?)").run(k).changes));
    assert.deepEqual(await Promise.all([insert("a"), insert("b"), insert("c")]), [1, 1, 1]);
    assert.deepEqual(log, [
      "BEGIN IMMEDIATE",
      ...["SAVEPOINT coffer_unit", "RELEASE coffer_unit"],
      ...["SAVEPOINT coffer_unit", "RELEASE coffer_unit"],
      ...["SAVEPOINT coffer_unit", "RELEASE coffer_unit"],
      "COMMIT",
    ]);
    // A unit started after they settled gets a transaction of its own.
    log.length = 0;
    assert.equal(await insert("d"), 1);
    assert.deepEqual(log, ["BEGIN IMMEDIATE", "SAVEPOINT coffer_unit", "RELEASE coffer_unit", "COMMIT"]);
  });

  it("a failed COMMIT fails every unit of the group", async () => {
    log.length = 0;
    // A deferred foreign key violation is only detected at COMMIT.
    raw.exec("CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (pid INTEGER REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED)");
    raw.pragma("foreign_keys = ON");
    const ok = group.run(() => Promise.resolve(raw.prepare("INSERT INTO t (k) VALUES ('e')").run().changes)).catch((e: unknown) => e);
    const orphan = group.run(() => Promise.resolve(raw.prepare("INSERT INTO c (pid) VALUES (42)").run().changes)).catch((e: unknown) => e);
    const [a, b] = await Promise.all([ok, orphan]);
    assert.ok(a instanceof Error && /FOREIGN KEY/i.test(a.message), String(a));
    assert.ok(b instanceof Error && /FOREIGN KEY/i.test(b.message), String(b));
    assert.equal(raw.inTransaction, false);
    assert.equal((raw.prepare("SELECT count(*) AS n FROM t WHERE k = 'e'").get() as { n: number }).n, 0);
  });

  it("tells a unit that failed only after the transaction ended: when the COMMIT fails, with the COMMIT's error", async () => {
    // Its own error may rest on an earlier unit's write that the failed COMMIT undoes (a conflict).
    let settledBeforeCommit = false;
    const conflict = group
      .run(() => Promise.reject(new Error("CONFLICT with the unit before")))
      .catch((e: unknown) => {
        settledBeforeCommit = !log.includes("COMMIT");
        return e;
      });
    const orphan = group.run(() => Promise.resolve(raw.prepare("INSERT INTO c (pid) VALUES (43)").run().changes)).catch((e: unknown) => e);
    log.length = 0;
    const [a, b] = await Promise.all([conflict, orphan]);
    assert.equal(settledBeforeCommit, false);
    assert.ok(a instanceof Error && /FOREIGN KEY/i.test(a.message), String(a));
    assert.ok(b instanceof Error && /FOREIGN KEY/i.test(b.message), String(b));
    // And with a COMMIT that succeeds, it gets its own error, after the COMMIT.
    log.length = 0;
    const own = await group.run(() => Promise.reject(new Error("own error"))).catch((e: unknown) => e);
    assert.ok(own instanceof Error && own.message === "own error");
    assert.deepEqual(log, ["BEGIN IMMEDIATE", "SAVEPOINT coffer_unit", "ROLLBACK TO coffer_unit", "RELEASE coffer_unit", "COMMIT"]);
  });
});
