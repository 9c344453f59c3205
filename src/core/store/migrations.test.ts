import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import SqliteDatabase from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import { Migrator } from "kysely/migration";
import pg from "pg";
import { loadConfig, type Config } from "../config/index.ts";
import { CofferError } from "../errors/index.ts";
import { openKeyring } from "../keys/index.ts";
import { Secret } from "../secret/index.ts";
import { createCore, LOCAL_CONTEXT as CTX, migrateDatabase, silentLogger } from "../service/index.ts";
import { AuditLog } from "../service/audit/index.ts";
import { SecretsService } from "../service/secrets/index.ts";
import { KeyManager } from "../service/scope-keys/index.ts";
import { STATE_MAC_2_PURPOSE, VALUE_HMAC_PURPOSE } from "../service/secrets/secret-state.ts";
import { ACTOR, DIALECTS, type Dialect } from "../../../test/fixtures/temp-core.ts";
import { freshDatabase } from "../../../test/fixtures/postgres.ts";
import { postgresShape, sqliteShape } from "../../../test/fixtures/logical-schema.ts";
import { postgresMigrations } from "./migrations/postgres/index.ts";
import { sqliteMigrations } from "./migrations/sqlite/index.ts";
import { openStore } from "./open-store.ts";

const MIGRATIONS = { sqlite: sqliteMigrations, postgres: postgresMigrations } as const;
const FIRST = "0001-initial";
const FUTURE = "9999-from-the-future";
const code =
  (c: string, also: (e: CofferError) => boolean = () => true) =>
  (e: unknown) =>
    e instanceof CofferError && e.code === c && also(e);
/** The driver's error code of a rejected statement: SQLite's `SQLITE_CONSTRAINT_*`, PostgreSQL's SQLSTATE. */
const sqlError = (expected: string) => (e: unknown) => (e as { code?: unknown }).code === expected;

/** An empty database (a SQLite file in a fresh data directory, or a fresh PostgreSQL database) and its Coffer config. */
type Target = {
  readonly dialect: Dialect;
  readonly home: string;
  readonly config: Config;
  /** Runs `fn` on one connection of the database's owner (PostgreSQL: the server's superuser), outside Coffer. */
  owner<T>(fn: (db: Kysely<unknown>) => Promise<T>): Promise<T>;
};

const targets: (() => Promise<void>)[] = [];
after(async () => {
  const failed = (await Promise.allSettled(targets.map((cleanup) => cleanup()))).find((r) => r.status === "rejected");
  if (failed !== undefined) throw failed.reason;
});

async function emptyTarget(dialect: Dialect): Promise<Target> {
  const home = mkdtempSync(join(tmpdir(), "coffer-migrations-"));
  const pgDb = dialect === "postgres" ? await freshDatabase() : null;
  targets.push(async () => {
    rmSync(home, { recursive: true, force: true });
    await pgDb?.drop();
  });
  const config = loadConfig({ env: { COFFER_HOME: home, ...(pgDb === null ? {} : { COFFER_DB_URL: pgDb.url }) } });
  const owner = async <T>(fn: (db: Kysely<unknown>) => Promise<T>): Promise<T> => {
    const db = new Kysely<unknown>({
      dialect:
        pgDb === null
          ? new SqliteDialect({ database: new SqliteDatabase(join(home, "coffer.db")) })
          : new PostgresDialect({ pool: new pg.Pool({ connectionString: pgDb.url, max: 1 }) }),
    });
    try {
      return await fn(db);
    } finally {
      await db.destroy();
    }
  };
  return { dialect, home, config, owner };
}

/**
 * A database at the first released schema and nothing later: kysely's Migrator, with the
 * migration tables Coffer's own migrator uses, applies this dialect's real `0001-initial`
 * module and stops (`migrateTo`), exactly as a Coffer that knew only 0001 left it.
 */
async function migrateOnlyToFirst(t: Target): Promise<void> {
  const migrations = MIGRATIONS[t.dialect];
  const { error, results } = await t.owner((db) =>
    new Migrator({
      db,
      provider: { getMigrations: () => Promise.resolve({ ...migrations }) },
      migrationTableName: "coffer_migration",
      migrationLockTableName: "coffer_migration_lock",
    }).migrateTo(FIRST),
  );
  assert.equal(error, undefined);
  assert.deepEqual(
    results?.map((r) => [r.migrationName, r.status]),
    [[FIRST, "Success"]],
  );
}

/**
 * This build's services wired as createCore wires them, minus createCore's schema step, so
 * they run on the database at whatever schema it has. Migration 0002 only adds a table, so
 * what they write into 0001's tables is what a core of the first release wrote there.
 */
async function coreWithoutSchemaStep(config: Config): Promise<{ secrets: SecretsService; audit: AuditLog; close(): Promise<void> }> {
  const store = await openStore(config.store);
  const keys = new KeyManager(store, await openKeyring(config.kek, { allowCreate: true, recorded: [] }), {
    cacheTtlMs: config.scopeKeyCacheTtlMs,
    maxCachedKeys: config.maxCachedKeys,
  });
  await keys.verifyKeyring();
  const audit = new AuditLog(store, keys);
  await audit.init();
  for (const purpose of [STATE_MAC_2_PURPOSE, VALUE_HMAC_PURPOSE]) await keys.ensureInternalKey(purpose);
  return { secrets: new SecretsService({ store, keys, audit, logger: silentLogger }), audit, close: () => store.close() };
}

async function statusOf(t: Target): Promise<{ applied: readonly string[]; pending: readonly string[] }> {
  const store = await openStore(t.config.store);
  try {
    return await store.migrationStatus();
  } finally {
    await store.close();
  }
}

const count = (t: Target, table: string): Promise<number> =>
  t.owner(async (db) => Number((await sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(db)).rows[0]?.n));
const keyFileExists = (t: Target): boolean => existsSync(join(t.home, "secrets", "master-key"));

/** Written at schema 0001, in this order; GONE is unset afterwards. */
const WRITES = [
  { owner: "project/acme", key: "DB_PASSWORD", value: "pw-1", meta: { team: "core" } },
  { owner: "project/acme", key: "DB_PASSWORD", value: "pw-2 ünïcødé ✓" },
  { owner: "user/alice", key: "TOKEN", value: "alice's token" },
  { owner: "system", key: "SHARED", value: "system value" },
  { owner: "project/acme", key: "GONE", value: "deleted before the upgrade" },
] as const;

for (const dialect of DIALECTS) {
  describe(`store migrations (${dialect})`, () => {
    const known = Object.keys(MIGRATIONS[dialect]).sort();

    it("migrates a fresh database to the latest schema and applies nothing when run again", async () => {
      const t = await emptyTarget(dialect);
      const before = await migrateDatabase(t.config, true);
      assert.deepEqual([before.applied, before.alreadyApplied, before.pending], [[], [], known]);
      assert.deepEqual((await migrateDatabase(t.config, false)).applied, known);
      assert.deepEqual(await statusOf(t), { applied: known, pending: [] });
      const again = await migrateDatabase(t.config, false);
      assert.deepEqual([again.applied, again.alreadyApplied], [[], known]);
    });

    it("keeps data written before the integrity migration (0004) intact, MACs it once at the first open with the key, and reveals it", async () => {
      // Today's services cannot write into 0001's tables (they MAC every row): the rows are
      // written at the latest schema without createCore's one-time backfill, then made to look
      // as rows written before 0004 look after it ran: no state MAC, no plaintext HMAC, no marks.
      const t = await emptyTarget(dialect);
      await migrateDatabase(t.config, false);
      const old = await coreWithoutSchemaStep(t.config);
      for (const w of WRITES) await old.secrets.set(ACTOR, CTX, { ...w, value: Secret.fromString(w.value) });
      await old.secrets.unset(ACTOR, CTX, { owner: "project/acme", key: "GONE" });
      await old.close();
      await t.owner(async (db) => {
        if (dialect === "postgres") await sql`SELECT set_config('coffer.all_owners', 'on', false)`.execute(db);
        await sql`UPDATE secrets SET state_mac = NULL`.execute(db);
        await sql`UPDATE secret_versions SET hmac = NULL, hmac_key_id = NULL`.execute(db);
        await sql`DELETE FROM integrity_marks`.execute(db);
      });
      const chainBefore = { events: WRITES.length + 1 };

      const core = await createCore(t.config, { migrate: true });
      try {
        assert.equal(await count(t, "integrity_marks"), 2);
        const chainAfter = await core.audit.verify(ACTOR, CTX, {});
        assert.deepEqual(chainAfter.problems, []);
        assert.equal(chainAfter.events, chainBefore.events + 1, "plus the one integrity.backfill event");
        const reveal = async (owner: string, key: string, version: number) =>
          (await core.secrets.reveal(ACTOR, CTX, { owner, key, version, reason: "upgrade check" })).value.revealText();
        assert.equal(await reveal("project/acme", "DB_PASSWORD", 1), "pw-1");
        assert.equal(await reveal("project/acme", "DB_PASSWORD", 2), "pw-2 ünïcødé ✓");
        assert.equal(await reveal("user/alice", "TOKEN", 1), "alice's token");
        assert.equal(await reveal("system", "SHARED", 1), "system value");
        assert.deepEqual((await core.secrets.get(ACTOR, CTX, { owner: "project/acme", key: "DB_PASSWORD" })).meta, { team: "core" });
        await assert.rejects(core.secrets.get(ACTOR, CTX, { owner: "project/acme", key: "GONE" }), code("NOT_FOUND"));
        assert.equal((await core.secrets.history(ACTOR, CTX, { owner: "project/acme", key: "GONE" })).length, 1);
        const next = await core.secrets.set(ACTOR, CTX, { owner: "project/acme", key: "DB_PASSWORD", value: Secret.fromString("pw-3") });
        assert.equal(next.version, 3);
        assert.ok((await core.audit.verify(ACTOR, CTX, {})).ok);
      } finally {
        await core.close();
      }
    });

    it("refuses the same (system, _, key) twice and a NULL owner id, so the system owner cannot slip past the unique key", async () => {
      const t = await emptyTarget(dialect);
      await migrateDatabase(t.config, false);
      const [unique, notNull] = dialect === "sqlite" ? ["SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_NOTNULL"] : ["23505", "23502"];
      await t.owner(async (db) => {
        // As the owner, with row-level security opened to every owner, so only the constraints can refuse.
        if (dialect === "postgres") await sql`SELECT set_config('coffer.all_owners', 'on', false)`.execute(db);
        const now = new Date().toISOString();
        const insert = (ownerId: string | null) =>
          sql`INSERT INTO secrets (owner_type, owner_id, key_name, current_version, created_at, updated_at)
              VALUES ('system', ${ownerId}, 'K', 1, ${now}, ${now})`.execute(db);
        await insert("_");
        await assert.rejects(insert("_"), sqlError(unique));
        await assert.rejects(insert(null), sqlError(notNull));
      });
      assert.equal(await count(t, "secrets"), 1);
    });

    // SQLite lets NULL into a PRIMARY KEY column unless it is an INTEGER PRIMARY KEY or declared
    // NOT NULL (https://sqlite.org/lang_createtable.html#the_primary_key); the migrations declare it.
    it("refuses a NULL in every single-column text primary key", async () => {
      const t = await emptyTarget(dialect);
      await migrateDatabase(t.config, false);
      const notNull = dialect === "sqlite" ? "SQLITE_CONSTRAINT_NOTNULL" : "23502";
      const [now, bytes] = [new Date().toISOString(), Buffer.from([1])];
      await t.owner(async (db) => {
        if (dialect === "postgres") await sql`SELECT set_config('coffer.all_owners', 'on', false)`.execute(db);
        const inserts = {
          keyring_keys: sql`INSERT INTO keyring_keys (kid, provider, fingerprint, created_at) VALUES (NULL, 'file', 'f', ${now})`,
          internal_keys: sql`INSERT INTO internal_keys (id, purpose, kid, wrapped_key, created_at) VALUES (NULL, 'p', 'k', ${bytes}, ${now})`,
          scope_keys: sql`INSERT INTO scope_keys (id, owner_type, owner_id, kid, wrapped_key, state, created_at)
            VALUES (NULL, 'project', 'p', 'k', ${bytes}, 'retired', ${now})`,
          rotation_jobs: sql`INSERT INTO rotation_jobs (id, to_kid, state, started_at, updated_at) VALUES (NULL, 'k', 'done', ${now}, ${now})`,
        };
        const accepted: string[] = [];
        for (const [table, insert] of Object.entries(inserts)) {
          await insert.execute(db).then(
            () => accepted.push(table),
            (e: unknown) => {
              assert.ok(sqlError(notNull)(e), `${table}: ${String(e)}`);
            },
          );
        }
        assert.deepEqual(accepted, [], "tables that stored a row with a NULL primary key");
      });
    });

    it("refuses a database with a migration this build does not know, naming it, and writes nothing", async () => {
      const t = await emptyTarget(dialect);
      await migrateDatabase(t.config, false);
      await t.owner((db) =>
        sql`INSERT INTO coffer_migration (name, "timestamp") VALUES (${FUTURE}, ${new Date().toISOString()})`.execute(db),
      );
      const tooNew = code("SCHEMA_TOO_NEW", (e) => e.message.includes(FUTURE) && String(e.details["migrations"]) === FUTURE);
      await assert.rejects(statusOf(t), tooNew);
      await assert.rejects(createCore(t.config), tooNew);
      await assert.rejects(createCore(t.config, { migrate: true }), tooNew);
      await assert.rejects(migrateDatabase(t.config, false), tooNew);
      assert.deepEqual(
        [await count(t, "coffer_migration"), await count(t, "keyring_keys"), keyFileExists(t)],
        [known.length + 1, 0, false],
      );
    });

    if (dialect === "postgres") {
      it("refuses to start on a database with pending migrations and writes nothing", async () => {
        const empty = await emptyTarget(dialect);
        await assert.rejects(
          createCore(empty.config),
          code("MIGRATIONS_PENDING", (e) => String(e.details["migrations"]) === known.join()),
        );
        const tables = await empty.owner((db) => db.introspection.getTables());
        assert.deepEqual([tables, keyFileExists(empty)], [[], false]);

        const first = await emptyTarget(dialect);
        await migrateOnlyToFirst(first);
        await assert.rejects(
          createCore(first.config),
          code("MIGRATIONS_PENDING", (e) => e.message.includes("0002-rotation-jobs")),
        );
        const rows = await Promise.all(["coffer_migration", "keyring_keys", "internal_keys", "audit_events"].map((n) => count(first, n)));
        assert.deepEqual([rows, keyFileExists(first)], [[1, 0, 0, 0], false]);
      });
    }
  });
}

describe("store migrations on both dialects", () => {
  it("end with the same logical schema: tables, columns and nullability, keys, unique keys and indexes", async () => {
    assert.deepEqual(Object.keys(sqliteMigrations), Object.keys(postgresMigrations));
    const [lite, post] = await Promise.all([emptyTarget("sqlite"), emptyTarget("postgres")]);
    await Promise.all([migrateDatabase(lite.config, false), migrateDatabase(post.config, false)]);
    const file = new SqliteDatabase(join(lite.home, "coffer.db"), { readonly: true });
    const sqliteSchema = sqliteShape(file);
    file.close();
    const postgresSchema = await post.owner(postgresShape);
    assert.deepEqual(postgresSchema, sqliteSchema);
    // Not equal by being empty alike: the keys the service relies on are there.
    assert.deepEqual(sqliteSchema["secrets"]?.unique, ["owner_type,owner_id,key_name"]);
    assert.deepEqual(sqliteSchema["scope_keys"]?.unique, ["owner_type,owner_id where state='active'"]);
    assert.deepEqual(sqliteSchema["secret_versions"]?.primaryKey, ["secret_id", "version"]);
  });
});
