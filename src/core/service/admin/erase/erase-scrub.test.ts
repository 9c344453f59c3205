import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { carve, ownerMaterial, sqliteFiles, type StoredBlob } from "../../../../../test/fixtures/carve.ts";
import { rawDb } from "../../../../../test/fixtures/raw-db.ts";
import { ACTOR, tempCore, type TempCore } from "../../../../../test/fixtures/temp-core.ts";
import { Secret } from "../../../secret/index.ts";
import { LOCAL_CONTEXT as CTX } from "../../access/actor.ts";
import type { Core } from "../../create-core.ts";
import { CryptoErase } from "./crypto-erase.ts";
import { internals } from "../../internals.ts";

const ALL = { kind: "all", why: "test" } as const;
const erase = (core: Core, owner: string) =>
  new CryptoErase(internals(core), { backupRetentionMs: null }).erase(ACTOR, CTX, { owner, confirm: owner });

async function seed(core: Core, owner: string): Promise<void> {
  for (const [key, value] of [
    ["A", "scrub-canary-a1-".repeat(4)],
    ["A", "scrub-canary-a2-".repeat(4)],
    ["BIG", "scrub-canary-big-".repeat(600)],
  ] as const) {
    await core.secrets.set(ACTOR, CTX, { owner, key, value: Secret.fromString(value) });
  }
}

describe("erase scrubs the live SQLite files while the store stays open", () => {
  let t: TempCore;
  before(async () => {
    t = await tempCore("sqlite", { COFFER_DB_BUSY_TIMEOUT_MS: "300" });
    await seed(t.core, "project/kept");
  });
  after(async () => {
    await t.cleanup();
  });

  it("leaves the WAL empty and no byte run of the erased keys and ciphertexts in the main file", async () => {
    await seed(t.core, "project/gone");
    const material = ownerMaterial(t.home, "gone");
    const r = await erase(t.core, "project/gone");
    assert.equal(r.scrub.complete, true, r.scrub.detail);
    const files = sqliteFiles(t.home);
    // The core's connection is still open, so the WAL file is still there: truncated to nothing.
    assert.equal(files.find((f) => f.name === "coffer.db-wal")?.bytes.length, 0);
    assert.deepEqual(carve(files, material.blobs), []);
    assert.notDeepEqual(carve(files, ownerMaterial(t.home, "kept").blobs), [], "another owner's rows are still there");
  });

  it("reports an incomplete scrub (liveDatabase null) when a reader's snapshot keeps the WAL busy, and completes on the next erase", async () => {
    await seed(t.core, "project/held");
    await seed(t.core, "project/next");
    const reader = rawDb(t.home);
    try {
      reader.exec("BEGIN");
      reader.prepare("SELECT count(*) FROM secrets").get();
      const r = await erase(t.core, "project/held");
      assert.equal(r.scrub.complete, false);
      assert.equal(r.liveDatabase, null);
      assert.match(r.scrub.detail, /WAL|VACUUM/);
    } finally {
      reader.close();
    }
    const again = await erase(t.core, "project/next");
    assert.equal(again.scrub.complete, true, again.scrub.detail);
  });
});

/** A superuser connection to the test database (the fixture's URL carries the server's credentials). */
async function superuser<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The bytes of a table's main file after a checkpoint, read by the server (pg_read_binary_file). */
async function tableFile(c: pg.Client, table: string): Promise<{ path: string; bytes: Buffer }> {
  await c.query("CHECKPOINT");
  const { rows } = await c.query<{ path: string }>("SELECT pg_relation_filepath($1::regclass) AS path", [table]);
  const path = rows[0]?.path ?? "";
  return { path, bytes: await fileAt(c, path) };
}

async function fileAt(c: pg.Client, path: string): Promise<Buffer> {
  const { rows } = await c.query<{ b: Buffer | null }>("SELECT pg_read_binary_file($1, true) AS b", [path]);
  return rows[0]?.b ?? Buffer.alloc(0);
}

async function wrappedScopeKeys(core: Core, ownerId: string): Promise<StoredBlob[]> {
  const rows = await internals(core).store.read(ALL, (db) =>
    db.selectFrom("scope_keys").select(["id", "wrapped_key"]).where("owner_id", "=", ownerId).execute(),
  );
  return rows.map((r) => ({ what: `wrapped scope key ${r.id}`, bytes: Buffer.from(r.wrapped_key) }));
}

describe("erase scrubs the wrapped scope keys from PostgreSQL's table files (VACUUM FULL)", () => {
  let t: TempCore;
  let url = "";
  before(async () => {
    t = await tempCore("postgres");
    url = t.dbUrl ?? "";
    await seed(t.core, "project/kept");
  });
  after(async () => {
    await t.cleanup();
  });

  it("finds a scope key deleted without VACUUM as a dead tuple in the scope_keys file: the carver works", async () => {
    await seed(t.core, "project/dead");
    const keys = await wrappedScopeKeys(t.core, "dead");
    await superuser(url, async (c) => {
      await c.query("DELETE FROM scope_keys WHERE owner_id = 'dead'");
      const file = await tableFile(c, "scope_keys");
      assert.notDeepEqual(carve([{ name: file.path, bytes: file.bytes }], keys), []);
    });
  });

  it("after coffer erase, neither the scope_keys file nor the file it replaced holds a byte run of the erased wrapped scope keys", async () => {
    await seed(t.core, "project/gone");
    const keys = await wrappedScopeKeys(t.core, "gone");
    assert.equal(keys.length, 1);
    const before = await superuser(url, (c) => tableFile(c, "scope_keys"));
    assert.notDeepEqual(carve([{ name: before.path, bytes: before.bytes }], keys), []);
    const r = await erase(t.core, "project/gone");
    assert.equal(r.scrub.complete, true, r.scrub.detail);
    assert.equal(typeof r.liveDatabase, "string");
    await superuser(url, async (c) => {
      const now = await tableFile(c, "scope_keys");
      assert.notEqual(now.path, before.path, "VACUUM FULL wrote a new file");
      const old = await fileAt(c, before.path);
      const files = [
        { name: now.path, bytes: now.bytes },
        { name: before.path, bytes: old },
      ];
      assert.deepEqual(carve(files, keys), []);
      // The dead tuple of the first test went with it; the other owner's key is still there.
      assert.notDeepEqual(carve(files, await wrappedScopeKeys(t.core, "kept")), []);
    });
    assert.equal(
      (await t.core.secrets.reveal(ACTOR, CTX, { owner: "project/kept", key: "A", reason: "r" })).value.revealText(),
      "scrub-canary-a2-".repeat(4),
    );
  });
});
