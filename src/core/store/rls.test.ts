import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import pg from "pg";
import { Secret } from "../secret/index.ts";
import { openStore } from "./open-store.ts";
import { pgDirectFor } from "./pg-direct.ts";
import { selectRows } from "./sqlite-direct.ts";
import type { Executor } from "./schema.ts";
import { NO_OWNERS, ownerPatternToLike, type OwnerScope } from "./store.ts";
import { LOCAL_CONTEXT } from "../service/index.ts";
import { ACTOR, tempCore, type TempCore } from "../../../test/fixtures/temp-core.ts";

/**
 * Tenant isolation proven in the database itself: raw SQL as the application role, bypassing
 * every filter the application would add.
 */
type Probe = { secrets: number; versions: number; scopeKeys: number; updated: number; deleted: number };

async function asApp<T>(url: string, owners: string | null, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query("SET ROLE coffer_app");
    await c.query("BEGIN");
    if (owners !== null) await c.query("SELECT set_config('coffer.owners', $1, true)", [owners]);
    try {
      return await fn(c);
    } finally {
      await c.query("ROLLBACK");
    }
  } finally {
    await c.end();
  }
}

/** project/b's secret id, read as the table owner (outside row-level security). */
async function ownerBSecretId(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number((await c.query<{ id: string }>("SELECT id FROM secrets WHERE owner_type = 'project' AND owner_id = 'b'")).rows[0]?.id);
  } finally {
    await c.end();
  }
}

/** What a raw session scoped to `owners` can see and change of project/b's rows. */
async function probeOwnerB(url: string, owners: string | null): Promise<Probe> {
  const bId = await ownerBSecretId(url);
  return asApp(url, owners, async (c) => {
    const n = async (q: string): Promise<number> => Number((await c.query<{ n: string }>(q)).rows[0]?.n ?? 0);
    return {
      secrets: await n("SELECT count(*) AS n FROM secrets WHERE owner_id = 'b'"),
      versions: await n("SELECT count(*) AS n FROM secret_versions v WHERE v.secret_id IN (SELECT id FROM secrets WHERE owner_id = 'b')"),
      scopeKeys: await n("SELECT count(*) AS n FROM scope_keys WHERE owner_id = 'b'"),
      updated: (await c.query("UPDATE secrets SET meta = '{\"x\":\"1\"}'::jsonb WHERE owner_id = 'b'")).rowCount ?? 0,
      deleted: (await c.query("DELETE FROM secret_versions WHERE secret_id = $1", [bId])).rowCount ?? 0,
    };
  });
}

const NOTHING: Probe = { secrets: 0, versions: 0, scopeKeys: 0, updated: 0, deleted: 0 };

describe("PostgreSQL row-level security", () => {
  let t: TempCore;
  let url = "";
  before(async () => {
    t = await tempCore("postgres");
    url = t.dbUrl ?? "";
    for (const owner of ["project/a", "project/b", "project/a_c", "project/abc"]) {
      await t.core.secrets.set(ACTOR, LOCAL_CONTEXT, { owner, key: "K", value: Secret.fromString(`value of ${owner}`) });
    }
  });
  after(async () => {
    await t.cleanup();
  });

  it("shows and changes none of owner B's rows to a session scoped to owner A", async () => {
    assert.deepEqual(await probeOwnerB(url, ownerPatternToLike("project/a")), NOTHING);
  });

  it("shows nothing at all to a session with no owner set", async () => {
    assert.deepEqual(await probeOwnerB(url, null), NOTHING);
    const all = await asApp(url, null, async (c) => (await c.query("SELECT count(*) AS n FROM secrets")).rows[0] as { n: string });
    assert.equal(all.n, "0");
  });

  it("shows owner B's rows to a session scoped to B (the probe can see when allowed)", async () => {
    const p = await probeOwnerB(url, ownerPatternToLike("project/b"));
    assert.equal(p.secrets, 1);
    assert.equal(p.versions, 1);
    assert.equal(p.scopeKeys, 1);
    assert.equal(p.updated, 1);
  });

  it("refuses to insert a row for an owner outside the scope", async () => {
    await assert.rejects(
      asApp(url, "project/a", (c) =>
        c.query(
          "INSERT INTO secrets (owner_type, owner_id, key_name, current_version, meta, created_at, updated_at) VALUES ('project', 'b', 'X', 1, '{}', now(), now())",
        ),
      ),
      /row-level security/,
    );
  });

  it("matches owner ids literally: '_' in an id is not a wildcard", async () => {
    const seen = await asApp(
      url,
      ownerPatternToLike("project/a_c"),
      async (c) => (await c.query<{ owner_id: string }>("SELECT owner_id FROM secrets ORDER BY owner_id")).rows,
    );
    assert.deepEqual(seen, [{ owner_id: "a_c" }]);
    const wild = await asApp(
      url,
      ownerPatternToLike("project/*"),
      async (c) => (await c.query<{ owner_id: string }>("SELECT owner_id FROM secrets ORDER BY owner_id")).rows,
    );
    assert.deepEqual(
      wild.map((r) => r.owner_id),
      ["a", "a_c", "abc", "b"],
    );
  });

  it("runs the application as a role that neither owns the tables nor bypasses RLS", async () => {
    const roles = await asApp(url, null, async (c) => {
      const r = await c.query<{ rolbypassrls: boolean; rolsuper: boolean }>(
        "SELECT rolbypassrls, rolsuper FROM pg_roles WHERE rolname = current_user",
      );
      const owner = await c.query<{ tableowner: string }>("SELECT tableowner FROM pg_tables WHERE tablename = 'secrets'");
      const forced = await c.query<{ relforcerowsecurity: boolean; relrowsecurity: boolean; relname: string }>(
        "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname IN ('secrets', 'secret_versions', 'scope_keys') ORDER BY relname",
      );
      return { role: r.rows[0], owner: owner.rows[0]?.tableowner, forced: forced.rows };
    });
    assert.deepEqual(roles.role, { rolbypassrls: false, rolsuper: false });
    assert.notEqual(roles.owner, "coffer_app");
    assert.equal(roles.forced.length, 3);
    for (const r of roles.forced) assert.ok(r.relrowsecurity && r.relforcerowsecurity, r.relname);
  });

  it("lets the application only append to the audit log", async () => {
    await assert.rejects(
      asApp(url, null, (c) => c.query("UPDATE audit_events SET actor = 'x'")),
      /permission denied/,
    );
    await assert.rejects(
      asApp(url, null, (c) => c.query("DELETE FROM audit_events")),
      /permission denied/,
    );
  });

  it("would catch a missing policy: with RLS disabled the same probe sees owner B", async () => {
    const owner = new pg.Client({ connectionString: url });
    await owner.connect();
    try {
      await owner.query("BEGIN");
      await owner.query("ALTER TABLE secrets DISABLE ROW LEVEL SECURITY");
      await owner.query("COMMIT");
      const leaked = await probeOwnerB(url, ownerPatternToLike("project/a"));
      assert.equal(leaked.secrets, 1, "without the policy the probe sees B's secret, so the tests above can fail");
    } finally {
      await owner.query("ALTER TABLE secrets ENABLE ROW LEVEL SECURITY");
      await owner.end();
    }
    assert.equal((await probeOwnerB(url, ownerPatternToLike("project/a"))).secrets, 0);
  });
});

describe("PostgreSQL owner scopes on a reused connection", () => {
  let t: TempCore;
  before(async () => {
    t = await tempCore("postgres");
    for (const owner of ["project/a", "project/b", "project/c"]) {
      await t.core.secrets.set(ACTOR, LOCAL_CONTEXT, { owner, key: "K", value: Secret.fromString("v") });
    }
  });
  after(async () => {
    await t.cleanup();
  });

  it("never carries one unit of work's owners into the next on the same connection", async () => {
    const store = await openStore({ kind: "postgres", url: Secret.fromString(t.dbUrl ?? ""), poolMax: 1, statementTimeoutMs: 5000 });
    const owners = (db: Executor) => db.selectFrom("secrets").select("owner_id").orderBy("owner_id").execute();
    const scope = (p: string): OwnerScope => ({ kind: "owners", patterns: [p] });
    try {
      assert.deepEqual(await store.read(scope("project/a"), owners), [{ owner_id: "a" }]);
      assert.deepEqual(await store.read(scope("project/b"), owners), [{ owner_id: "b" }]);
      assert.deepEqual(await store.transaction(scope("project/c"), owners), [{ owner_id: "c" }]);
      assert.deepEqual(await store.read(scope("project/b"), owners), [{ owner_id: "b" }], "the transaction's scope ended with it");
      await assert.rejects(
        store.transaction(scope("project/a"), async (db) => {
          await owners(db);
          throw new Error("boom");
        }),
      );
      assert.deepEqual(await store.read(scope("project/b"), owners), [{ owner_id: "b" }], "a rolled-back scope does not linger");
      assert.deepEqual(await store.read(NO_OWNERS, owners), []);
      assert.deepEqual(await store.read({ kind: "all", why: "test" }, owners), [{ owner_id: "a" }, { owner_id: "b" }, { owner_id: "c" }]);
      assert.deepEqual(await store.read(scope("project/a"), owners), [{ owner_id: "a" }]);
    } finally {
      await store.close();
    }
  });

  it("runs the store's direct reads as coffer_app under the read's scope, from a connection's first statement", async () => {
    const store = await openStore({ kind: "postgres", url: Secret.fromString(t.dbUrl ?? ""), poolMax: 1, statementTimeoutMs: 5000 });
    const direct = async (db: Executor): Promise<{ who: string; owners: string[] }> => {
      assert.notEqual(pgDirectFor(db), null, "the read must take the direct path, or this test proves nothing about it");
      const rows = await selectRows<{ owner_id: string; who: string }>(
        db,
        "SELECT owner_id, current_user AS who FROM secrets WHERE owner_type = $1 ORDER BY owner_id",
        ["project"],
      );
      const who = await selectRows<{ who: string }>(db, "SELECT current_user AS who", []);
      return { who: who[0]?.who ?? "", owners: rows.map((r) => r.owner_id) };
    };
    const scope = (p: string): OwnerScope => ({ kind: "owners", patterns: [p] });
    try {
      // The first statement the new connection ever runs is this direct read: run as the
      // connecting superuser it would bypass row-level security and list every owner.
      assert.deepEqual(await store.read(scope("project/a"), direct), { who: "coffer_app", owners: ["a"] });
      assert.deepEqual(await store.read({ kind: "all", why: "test" }, direct), { who: "coffer_app", owners: ["a", "b", "c"] });
      assert.deepEqual(
        await store.read(scope("project/b"), direct),
        { who: "coffer_app", owners: ["b"] },
        "the wider scope did not linger",
      );
      assert.deepEqual(
        await store.transaction(scope("project/c"), (db) => Promise.resolve(pgDirectFor(db))),
        null,
        "a transaction never goes direct",
      );
      assert.deepEqual(await store.read(NO_OWNERS, direct), { who: "coffer_app", owners: [] });
    } finally {
      await store.close();
    }
  });

  it("sends a transaction's BEGIN and scope with its first statement, and that statement sees only the scope", async () => {
    const store = await openStore({ kind: "postgres", url: Secret.fromString(t.dbUrl ?? ""), poolMax: 1, statementTimeoutMs: 5000 });
    const scope = (p: string): OwnerScope => ({ kind: "owners", patterns: [p] });
    const owners = async (db: Executor): Promise<string[]> =>
      (
        await sql<{ owner_id: string }>`SELECT owner_id FROM secrets WHERE owner_type = ${"project"} ORDER BY owner_id`.execute(db)
      ).rows.map((r) => r.owner_id);
    // Round trips: pg sends a client's next query only after the previous one's answer.
    let queries = 0;
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = proto.query;
    proto.query = function (this: unknown, ...args: unknown[]): unknown {
      queries++;
      return original.apply(this, args);
    };
    const roundTrips = async <T>(fn: () => Promise<T>): Promise<{ value: T; roundTrips: number }> => {
      const before = queries;
      const value = await fn();
      return { value, roundTrips: queries - before };
    };
    try {
      // The first transaction on the connection prepares BEGIN and the scope statement.
      assert.deepEqual(await store.transaction(scope("project/a"), owners), ["a"]);
      // The connection's session scope is now every owner; the transaction's own must win.
      assert.deepEqual(await store.read({ kind: "all", why: "test" }, owners), ["a", "b", "c"]);
      const b = await roundTrips(() => store.transaction(scope("project/b"), owners));
      assert.deepEqual(b, { value: ["b"], roundTrips: 2 }, "BEGIN + scope + the statement, then COMMIT");
      const touched = await store.transaction(scope("project/c"), async (db) =>
        Number((await sql`UPDATE secrets SET meta = meta WHERE owner_type = ${"project"}`.execute(db)).numAffectedRows),
      );
      assert.equal(touched, 1, "a write through the pipelined opening reaches only the scope's rows");
      await assert.rejects(
        store.transaction(scope("project/a"), (db) => sql`SELECT 1 / ${0}::int AS x`.execute(db)),
        /division by zero/,
      );
      assert.deepEqual(await store.transaction(scope("project/a"), owners), ["a"], "the failed transaction was rolled back");
      assert.deepEqual(await store.read(scope("project/c"), owners), ["c"], "no transaction scope lingers in the session");
      const empty = await roundTrips(() => store.transaction(scope("project/a"), () => Promise.resolve("nothing")));
      assert.deepEqual(empty, { value: "nothing", roundTrips: 0 }, "a transaction without statements sends nothing");
    } finally {
      proto.query = original;
      await store.close();
    }
  });
});
