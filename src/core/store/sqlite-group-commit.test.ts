import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import SqliteDatabase from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { NO_OWNERS, type Store } from "./store.ts";
import { openSqliteStore } from "./sqlite-store.ts";
import * as secretRepo from "./secret-repo.ts";
import { SqliteGroupCommit } from "./sqlite-group-commit.ts";
import type { Database } from "./schema.ts";

const OWNER = { ownerType: "project", ownerId: "group" } as const;
const row = (key: string) => ({
  owner_type: OWNER.ownerType,
  owner_id: OWNER.ownerId,
  key_name: key,
  current_version: 1,
  meta: "{}",
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
  last_rotated_at: null,
  deleted_at: null,
  state_mac: null,
});

describe("SQLite group commit (through the store)", () => {
  let dir: string;
  let store: Store;
  let other: SqliteDatabase.Database;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "coffer-group-"));
    store = openSqliteStore({ path: join(dir, "coffer.db"), busyTimeoutMs: 2000 });
    await store.migrate();
    // A second connection, as another process would have: it sees only committed rows.
    other = new SqliteDatabase(join(dir, "coffer.db"), { readonly: true });
  });
  after(async () => {
    other.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const committed = (key: string) =>
    other.prepare("SELECT count(*) AS n FROM secrets WHERE owner_id = ? AND key_name = ?").get(OWNER.ownerId, key) as { n: number };

  it("a unit that throws is rolled back alone; the others of its group commit, each settled after the commit", async () => {
    const seen: Record<string, number> = {};
    const unit = (key: string, fail: boolean) =>
      store
        .transaction(NO_OWNERS, async (t) => {
          await secretRepo.insertSecretIfAbsent(t, row(key));
          if (fail) throw new Error(`unit ${key} fails`);
          return key;
        })
        .then(
          (k) => {
            // Resolved only once its row is visible to another connection: committed.
            seen[k] = committed(k).n;
            return k;
          },
          (e: unknown) => e,
        );
    // Started in the same turn: one group.
    const [a, b, c] = await Promise.all([unit("A", false), unit("B", true), unit("C", false)]);
    assert.equal(a, "A");
    assert.equal((b as Error).message, "unit B fails");
    assert.equal(c, "C");
    assert.deepEqual(seen, { A: 1, C: 1 });
    assert.equal(committed("B").n, 0);
  });

  it("when SQLite rolls the whole transaction back, every unit of the group fails and nothing is written", async () => {
    const unit = (key: string, abort: boolean) =>
      store
        .transaction(NO_OWNERS, async (t) => {
          await secretRepo.insertSecretIfAbsent(t, row(key));
          // What SQLite does by itself on a full disk or an I/O error: the transaction is gone.
          if (abort) await sql`ROLLBACK`.execute(t);
          return key;
        })
        .catch((e: unknown) => e);
    const [d, e, f] = await Promise.all([unit("D", false), unit("E", true), unit("F", false)]);
    assert.ok(d instanceof Error, "a unit done before the rollback must fail: its change is gone");
    assert.ok(e instanceof Error);
    // F ran in a new transaction after the failed one, or failed with it; never half-written.
    assert.equal(committed("D").n, 0);
    assert.equal(committed("E").n, 0);
    assert.equal(committed("F").n, f instanceof Error ? 0 : 1);
    // The store works afterwards.
    assert.equal(await store.transaction(NO_OWNERS, async (t) => (await secretRepo.insertSecretIfAbsent(t, row("G")), "G")), "G");
    assert.equal(committed("G").n, 1);
  });
});

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
