import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Kysely, SqliteDialect, sql, type SqliteDatabase } from "kysely";
import { SQLITE_MIGRATION_NAMES } from "./migrations/sqlite/names.ts";
import { sqliteMigrations } from "./migrations/sqlite/index.ts";
import type { Database } from "./schema.ts";
import { SQLITE_SQL, sqliteInsertPrefix } from "./sqlite-sql.ts";
import { openSqliteStore } from "./sqlite-store.ts";
import { NO_OWNERS } from "./store.ts";
import * as secretRepo from "./secret-repo.ts";
import { secretRow } from "../../../test/fixtures/secret-row.ts";

// Compiles only: this database is never opened.
const unused: SqliteDatabase = {
  prepare: () => {
    throw new Error("not executed");
  },
  close: () => undefined,
};
const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: unused }) });
const OWNER = { ownerType: "t", ownerId: "i" } as const;

// The statements `coffer run` makes on SQLite are written out (sqlite-sql.ts) so that its start-up
// does not load Kysely; each must be exactly what Kysely compiles for the repository's query.
describe("SQLite statements written out", () => {
  const cases: Record<keyof typeof SQLITE_SQL, { readonly sql: string }> = {
    listKeyringKeys: db.selectFrom("keyring_keys").selectAll().orderBy("created_at").compile(),
    findInternalKey: db.selectFrom("internal_keys").selectAll().where("purpose", "=", "p").compile(),
    findScopeKey: db.selectFrom("scope_keys").selectAll().where("id", "=", "i").compile(),
    findMark: db.selectFrom("integrity_marks").selectAll().where("name", "=", "").compile(),
    updateMark: db
      .updateTable("integrity_marks")
      .set({ seq: 0, digest: new Uint8Array(0), key_id: "", mac: new Uint8Array(0), updated_at: "" })
      .where("name", "=", "")
      .compile(),
    lastAuditEvent: db.selectFrom("audit_events").select(["seq", "mac"]).orderBy("seq", "desc").limit(sql.lit(1)).compile(),
    listCurrentVersions: secretRepo.currentVersionsQuery(db, OWNER, "").compile(),
    listCurrentVersionsPrefixed: secretRepo.currentVersionsQuery(db, OWNER, "abc").compile(),
  };
  for (const [name, compiled] of Object.entries(cases)) {
    it(`${name} is Kysely's SQL`, () => {
      assert.equal(SQLITE_SQL[name as keyof typeof SQLITE_SQL], compiled.sql);
    });
  }

  it("the audit INSERT's start is Kysely's", () => {
    const single = db
      .insertInto("audit_events")
      .values({
        seq: 1,
        at: "",
        actor: "",
        action: "",
        outcome: "",
        details: "{}",
        mac_key_id: "",
        prev_mac: new Uint8Array(0),
        mac: new Uint8Array(0),
      })
      .compile().sql;
    const prefix = sqliteInsertPrefix("audit_events", [
      "seq",
      "at",
      "actor",
      "action",
      "outcome",
      "details",
      "mac_key_id",
      "prev_mac",
      "mac",
    ]);
    assert.equal(single.slice(0, single.lastIndexOf(" values (")), prefix);
    assert.equal(sqliteInsertPrefix("t", ['a"b']), 'insert into "t" ("a""b")');
  });

  it("the migration names are the migrations'", () => {
    assert.deepEqual([...SQLITE_MIGRATION_NAMES], Object.keys(sqliteMigrations));
  });
});

describe("SQLite store: Kysely loaded lazily", () => {
  it("a transaction's statement without a direct path runs through Kysely on the transaction, and the root waits for it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "coffer-lazy-"));
    const store = openSqliteStore({ path: join(dir, "coffer.db"), busyTimeoutMs: 2000 });
    try {
      await store.migrate();
      const owner = { ownerType: "project", ownerId: "lazy" };
      const row = secretRow(owner.ownerId, "A");
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let inserted!: () => void;
      const insertedP = new Promise<void>((r) => {
        inserted = r;
      });
      const tx = store.transaction(NO_OWNERS, async (t) => {
        await secretRepo.insertSecretIfAbsent(t, row); // a query builder: Kysely, on the open transaction
        inserted();
        await gate;
        throw new Error("roll back");
      });
      await insertedP;
      // Through Kysely (a builder) on the root: must wait for the transaction, never see its row.
      const seen = store.read(NO_OWNERS, (r) => secretRepo.lockSecret(r, owner, "A"));
      // Directly on the root while the transaction is open: falls back to Kysely, waits too.
      const listed = store.read(NO_OWNERS, (r) => secretRepo.listCurrentVersions(r, owner, ""));
      release();
      await assert.rejects(tx, /roll back/);
      assert.equal(await seen, null);
      assert.deepEqual(await listed, []);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
