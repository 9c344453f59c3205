import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { dropAuditTriggers, rawDb } from "../../../../test/fixtures/raw-db.ts";
import { ACTOR, DIALECTS, tempCore, type Dialect, type TempCore } from "../../../../test/fixtures/temp-core.ts";
import { CofferError } from "../../errors/index.ts";
import { Secret } from "../../secret/index.ts";
import { LOCAL_CONTEXT, LOCAL_CONTEXT as CTX } from "../access/actor.ts";
import { internals } from "../internals.ts";

/** A canary stored in a corrupted column: it must never appear in an error. */
const CANARY = "corrupt-canary-7f3a";

/** Writes to the database past Coffer, as an attacker or a broken tool would (SQLite file, or PostgreSQL as superuser). */
async function tamper(t: TempCore, dialect: Dialect, statement: string): Promise<void> {
  if (dialect === "sqlite") {
    const db = rawDb(t.home);
    try {
      dropAuditTriggers(db);
      db.exec(statement);
    } finally {
      db.close();
    }
    return;
  }
  const c = new pg.Client({ connectionString: t.dbUrl ?? "" });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

/**
 * A changed secrets row is refused where it is read. Paths that check the row's state MAC (get,
 * reveal, export) refuse it as STATE_TAMPERED before parsing anything; a listing (no MAC check)
 * parses the row and refuses it as STORE_CORRUPT. Other tables (audit, tokens) have no state MAC.
 */
async function corrupt(p: Promise<unknown>, code: "STORE_CORRUPT" | "STATE_TAMPERED" = "STORE_CORRUPT"): Promise<CofferError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CofferError, String(e));
    assert.equal(e.code, code, e.message);
    assert.ok(!e.message.includes(CANARY) && !JSON.stringify(e.details).includes(CANARY), e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

async function secretId(t: TempCore, id: string, key: string): Promise<number> {
  const row = await internals(t.core).store.read({ kind: "all", why: "test" }, (db) =>
    db.selectFrom("secrets").select("id").where("owner_id", "=", id).where("key_name", "=", key).executeTakeFirstOrThrow(),
  );
  return row.id;
}

for (const dialect of DIALECTS) {
  describe(`a corrupt stored row (${dialect})`, () => {
    let t: TempCore;
    const set = (owner: string, key: string, value = "v") =>
      t.core.secrets.set(ACTOR, CTX, { owner, key, value: Secret.fromString(value) });

    before(async () => {
      t = await tempCore(dialect);
      await set("project/fine", "OK");
    });
    after(async () => {
      await t.cleanup();
    });

    // PostgreSQL's JSONB refuses text that is not JSON, so there the corruption is JSON of the wrong shape.
    const badMeta = dialect === "sqlite" ? `{not json ${CANARY}` : `["${CANARY}"]`;

    it("get, reveal and export refuse a row whose meta does not parse (STATE_TAMPERED), list names it (STORE_CORRUPT)", async () => {
      await set("project/meta", "BROKEN", "the-value");
      const id = await secretId(t, "meta", "BROKEN");
      await tamper(t, dialect, `UPDATE secrets SET meta = '${badMeta}' WHERE id = ${String(id)}`);
      const g = await corrupt(t.core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner: "project/meta", key: "BROKEN" }), "STATE_TAMPERED");
      assert.match(g.message, /project\/meta BROKEN/);
      await corrupt(t.core.secrets.reveal(ACTOR, CTX, { owner: "project/meta", key: "BROKEN", reason: "r" }), "STATE_TAMPERED");
      const e = await corrupt(t.core.secrets.list(ACTOR, LOCAL_CONTEXT, {}));
      assert.match(e.message, new RegExp(`^stored row secrets ${String(id)} \\(project/meta BROKEN\\) is corrupt: meta `));
      assert.deepEqual(e.details, { table: "secrets", row: String(id), column: "meta" });
      await corrupt(t.core.secrets.list(ACTOR, LOCAL_CONTEXT, { owner: "project/meta" }));
      await corrupt(t.core.secrets.exportValues(ACTOR, CTX, { owner: "project/meta", reason: "r" }), "STATE_TAMPERED");
      // Other owners are still served.
      assert.deepEqual(
        (await t.core.secrets.list(ACTOR, LOCAL_CONTEXT, { owner: "project/fine" })).items.map((s) => s.key),
        ["OK"],
      );
      await tamper(t, dialect, `UPDATE secrets SET meta = '{}' WHERE id = ${String(id)}`);
      assert.equal(
        (await t.core.secrets.reveal(ACTOR, CTX, { owner: "project/meta", key: "BROKEN", reason: "r" })).value.revealText(),
        "the-value",
      );
    });

    it("a reveal refused for corrupt meta audits no successful reveal", async () => {
      await set("project/audited", "K", "v");
      const id = await secretId(t, "audited", "K");
      await tamper(t, dialect, `UPDATE secrets SET meta = '${badMeta}' WHERE id = ${String(id)}`);
      await corrupt(t.core.secrets.reveal(ACTOR, CTX, { owner: "project/audited", key: "K", reason: "r" }), "STATE_TAMPERED");
      const events = await internals(t.core).audit.list({ owner: null, action: "secret.reveal", afterSeq: 0, limit: 100 });
      assert.deepEqual(
        events.filter((ev) => ev.owner === "project/audited" && ev.outcome === "success"),
        [],
      );
      await tamper(t, dialect, `UPDATE secrets SET meta = '{}' WHERE id = ${String(id)}`);
    });

    it("list fails with STORE_CORRUPT naming the row when a stored owner id is invalid", async () => {
      await set("project/owner", "K");
      const id = await secretId(t, "owner", "K");
      await tamper(t, dialect, `UPDATE secrets SET owner_id = '-${CANARY} x' WHERE id = ${String(id)}`);
      const e = await corrupt(t.core.secrets.list(ACTOR, LOCAL_CONTEXT, {}));
      assert.equal(
        e.message.startsWith(`stored row secrets ${String(id)} is corrupt: owner_type, owner_id is not a valid owner`),
        true,
        e.message,
      );
      await tamper(t, dialect, `UPDATE secrets SET owner_id = 'owner' WHERE id = ${String(id)}`);
      assert.ok((await t.core.secrets.list(ACTOR, LOCAL_CONTEXT, {})).items.length >= 2);
    });

    it("reveal refuses a row whose current_version names a version that does not exist (STATE_TAMPERED)", async () => {
      await set("project/version", "K");
      const id = await secretId(t, "version", "K");
      await tamper(t, dialect, `UPDATE secrets SET current_version = 99 WHERE id = ${String(id)}`);
      const e = await corrupt(t.core.secrets.reveal(ACTOR, CTX, { owner: "project/version", key: "K", reason: "r" }), "STATE_TAMPERED");
      assert.match(e.message, /project\/version K/);
      await tamper(t, dialect, `UPDATE secrets SET current_version = 1 WHERE id = ${String(id)}`);
    });

    it("audit list fails with STORE_CORRUPT naming the event when its details do not parse; audit verify reports the event", async () => {
      const [first] = await internals(t.core).audit.list({ owner: null, action: null, afterSeq: 0, limit: 1 });
      assert.ok(first !== undefined);
      const bad = dialect === "sqlite" ? `{${CANARY}` : `["${CANARY}"]`;
      await tamper(t, dialect, `UPDATE audit_events SET details = '${bad}' WHERE seq = ${String(first.seq)}`);
      const e = await corrupt(internals(t.core).audit.list({ owner: null, action: null, afterSeq: 0, limit: 10 }));
      assert.deepEqual(e.details, { table: "audit_events", row: String(first.seq), column: "details" });
      const v = await internals(t.core).audit.verify();
      assert.equal(v.ok, false);
      assert.ok(v.problems.some((p) => p.seq === first.seq));
    });

    it("token list fails with STORE_CORRUPT naming the token when its scopes do not parse", async () => {
      const created = await t.core.tokens.create(ACTOR, CTX, { name: "ci", scopes: ["secrets:read"], owners: ["project/*"] });
      const bad = dialect === "sqlite" ? `[${CANARY}` : `["${CANARY}"]`;
      await tamper(t, dialect, `UPDATE tokens SET scopes = '${bad}' WHERE id = '${created.view.id}'`);
      const e = await corrupt(t.core.tokens.list(ACTOR, CTX));
      assert.deepEqual(e.details, { table: "tokens", row: created.view.id, column: "scopes" });
    });
  });
}
