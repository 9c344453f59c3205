import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { systemEffects } from "../../../crypto/index.ts";
import { CofferError } from "../../../errors/index.ts";
import { Secret } from "../../../secret/index.ts";
import { rawDb } from "../../../../../test/fixtures/raw-db.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../../test/fixtures/temp-core.ts";
import { LOCAL_CONTEXT, LOCAL_CONTEXT as CTX } from "../../access/actor.ts";
import type { Core } from "../../create-core.ts";
import { CryptoErase, formatRetention, parseRetention } from "./crypto-erase.ts";
import { internals } from "../../internals.ts";

const ALL = { kind: "all", why: "test" } as const;
const DAY_MS = 86_400_000;
const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;

/** Rows stored for an owner (`project/<id>`), counted across every tenant table. */
async function rowsOf(core: Core, id: string): Promise<{ secrets: number; versions: number; scopeKeys: number }> {
  return internals(core).store.read(ALL, async (db) => {
    const secrets = await db.selectFrom("secrets").select("id").where("owner_id", "=", id).execute();
    const versions = await db
      .selectFrom("secret_versions as v")
      .innerJoin("secrets as s", "s.id", "v.secret_id")
      .select("v.version")
      .where("s.owner_id", "=", id)
      .execute();
    const scopeKeys = await db.selectFrom("scope_keys").select("id").where("owner_id", "=", id).execute();
    return { secrets: secrets.length, versions: versions.length, scopeKeys: scopeKeys.length };
  });
}

async function seed(core: Core, owner: string): Promise<void> {
  for (const [key, value] of [
    ["A", "a1"],
    ["A", "a2"],
    ["B", "b1"],
    ["GONE", "g1"],
  ] as const) {
    await core.secrets.set(ACTOR, CTX, { owner, key, value: Secret.fromString(value) });
  }
  await core.secrets.unset(ACTOR, CTX, { owner, key: "GONE" });
}

/** A retired scope key row beside the active one, as a per-owner rekey will leave behind. */
async function addRetiredScopeKey(core: Core, id: string): Promise<void> {
  await internals(core).store.transaction(ALL, async (db) => {
    const active = await db.selectFrom("scope_keys").selectAll().where("owner_id", "=", id).executeTakeFirstOrThrow();
    await db
      .insertInto("scope_keys")
      .values({ ...active, id: `${active.id}-old`, state: "retired" })
      .execute();
  });
}

for (const dialect of DIALECTS) {
  describe(`CryptoErase (${dialect})`, () => {
    let t: TempCore;
    const fixedNow = new Date("2030-01-01T00:00:00.000Z");
    const eraser = (backupRetentionMs: number | null = null) =>
      new CryptoErase(internals(t.core), { backupRetentionMs, fx: { ...systemEffects, now: () => fixedNow } });

    before(async () => {
      t = await tempCore(dialect);
      await seed(t.core, "project/doomed");
      await seed(t.core, "project/kept");
      await addRetiredScopeKey(t.core, "doomed");
    });
    after(async () => {
      await t.cleanup();
    });

    it("refuses without the owner typed as confirmation, and erases nothing", async () => {
      await assert.rejects(eraser().erase(ACTOR, CTX, { owner: "project/doomed", confirm: "project/kept" }), code("CONFIRMATION_REQUIRED"));
      assert.deepEqual(await rowsOf(t.core, "doomed"), { secrets: 3, versions: 4, scopeKeys: 2 });
      const denied = await internals(t.core).audit.list({ owner: null, action: "owner.erase", afterSeq: 0, limit: 10 });
      assert.deepEqual(
        denied.map((e) => e.outcome),
        ["denied"],
      );
    });

    it("erases every row of the owner, deleted secrets and retired scope keys too, and none of another owner's", async () => {
      const before = await rowsOf(t.core, "kept");
      const r = await eraser(30 * DAY_MS).erase(ACTOR, CTX, { owner: "project/doomed", confirm: "project/doomed" });
      assert.deepEqual(
        { secrets: r.secrets, versions: r.versions, scopeKeys: r.scopeKeys, kids: r.kids },
        { secrets: 3, versions: 4, scopeKeys: 2, kids: ["primary"] },
      );
      assert.deepEqual(await rowsOf(t.core, "doomed"), { secrets: 0, versions: 0, scopeKeys: 0 });
      assert.deepEqual(await rowsOf(t.core, "kept"), before);
      assert.equal((await t.core.secrets.reveal(ACTOR, CTX, { owner: "project/kept", key: "A", reason: "r" })).value.revealText(), "a2");
    });

    it("reports now for the live database and erasedAt + retention for backups", async () => {
      await seed(t.core, "project/timed");
      const r = await eraser(30 * DAY_MS).erase(ACTOR, CTX, { owner: "project/timed", confirm: "project/timed" });
      assert.equal(r.erasedAt, "2030-01-01T00:00:00.000Z");
      assert.equal(r.liveDatabase, r.erasedAt);
      assert.deepEqual(r.backups, {
        backupRetention: "30d",
        agedOutAt: "2030-01-31T00:00:00.000Z",
        kidRetiredAt: null,
        unrecoverableEverywhereAt: "2030-01-31T00:00:00.000Z",
      });
    });

    it("reports no date for backups when no retention is given and the kid is not retired", async () => {
      await seed(t.core, "project/open");
      const r = await eraser().erase(ACTOR, CTX, { owner: "project/open", confirm: "project/open" });
      assert.deepEqual(r.backups, { backupRetention: null, agedOutAt: null, kidRetiredAt: null, unrecoverableEverywhereAt: null });
    });

    it("takes the kid's retirement when it comes before the backups age out", async () => {
      await seed(t.core, "project/retired");
      const retiredAt = "2030-01-10T00:00:00.000Z";
      await internals(t.core).store.transaction(ALL, (db) =>
        db.updateTable("keyring_keys").set({ retired_at: retiredAt }).where("kid", "=", "primary").execute(),
      );
      try {
        const r = await eraser(30 * DAY_MS).erase(ACTOR, CTX, { owner: "project/retired", confirm: "project/retired" });
        assert.equal(r.backups.kidRetiredAt, retiredAt);
        assert.equal(r.backups.unrecoverableEverywhereAt, retiredAt);
      } finally {
        await internals(t.core).store.transaction(ALL, (db) =>
          db.updateTable("keyring_keys").set({ retired_at: null }).where("kid", "=", "primary").execute(),
        );
      }
    });

    it("writes an owner.erase audit event with counts and kids, and the chain still verifies", async () => {
      const events = await internals(t.core).audit.list({ owner: null, action: "owner.erase", afterSeq: 0, limit: 10 });
      const first = events.find((e) => e.outcome === "success");
      assert.equal(first?.owner, "project/doomed");
      assert.deepEqual(first.details, { secrets: 3, versions: 4, scopeKeys: 2, kids: "primary" });
      const v = await t.core.audit.verify(ACTOR, CTX, {});
      assert.ok(v.ok, JSON.stringify(v.problems));
    });

    it("answers NOT_FOUND for an owner with nothing stored, or already erased", async () => {
      for (const owner of ["project/never", "project/doomed"]) {
        await assert.rejects(eraser().erase(ACTOR, CTX, { owner, confirm: owner }), code("NOT_FOUND"));
      }
      await assert.rejects(eraser().erase(ACTOR, CTX, { owner: "project/", confirm: "project/" }), code("INVALID_INPUT"));
    });

    it("leaves nothing readable: get and list find nothing for the erased owner", async () => {
      await assert.rejects(t.core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner: "project/doomed", key: "A" }), code("NOT_FOUND"));
      assert.deepEqual((await t.core.secrets.list(ACTOR, LOCAL_CONTEXT, { owner: "project/doomed", includeDeleted: true })).items, []);
    });

    it("gives a write after an erase (same process) a new scope key, not the erased one still cached", async () => {
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/doomed", key: "AGAIN", value: Secret.fromString("x") });
      const other = await t.reopen();
      const back = await other.secrets.reveal(ACTOR, CTX, { owner: "project/doomed", key: "AGAIN", reason: "r" });
      assert.equal(back.value.revealText(), "x");
    });

    it("gives a write from another server (a stale cached key there) a new scope key after an erase", async () => {
      const other = await t.reopen();
      await other.secrets.set(ACTOR, CTX, { owner: "project/twice", key: "K", value: Secret.fromString("1") });
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/twice", key: "K2", value: Secret.fromString("2") });
      await new CryptoErase(internals(t.core), { backupRetentionMs: null }).erase(ACTOR, CTX, {
        owner: "project/twice",
        confirm: "project/twice",
      });
      // `other` still caches the erased key: its next write must notice and take a new one.
      await other.secrets.set(ACTOR, CTX, { owner: "project/twice", key: "K", value: Secret.fromString("3") });
      const back = await t.core.secrets.reveal(ACTOR, CTX, { owner: "project/twice", key: "K", reason: "r" });
      assert.equal(back.value.revealText(), "3");
    });

    if (dialect === "sqlite") {
      it("erases nothing when the audit event cannot be written", async () => {
        await seed(t.core, "project/audited");
        const db = rawDb(t.home);
        db.exec("CREATE TRIGGER no_erase BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit down'); END;");
        try {
          await assert.rejects(eraser().erase(ACTOR, CTX, { owner: "project/audited", confirm: "project/audited" }), code("AUDIT_FAILED"));
        } finally {
          db.exec("DROP TRIGGER no_erase");
          db.close();
        }
        assert.deepEqual(await rowsOf(t.core, "audited"), { secrets: 3, versions: 4, scopeKeys: 1 });
      });

      it("leaves a backup taken before the erase holding the wrapped scope key, decryptable with the KEK", async () => {
        await seed(t.core, "project/backed");
        const copy = join(t.home, "backup-before-erase.db");
        const live = rawDb(t.home);
        await live.backup(copy);
        await eraser().erase(ACTOR, CTX, { owner: "project/backed", confirm: "project/backed" });
        const q = "SELECT kid, wrapped_key FROM scope_keys WHERE owner_type = 'project' AND owner_id = 'backed'";
        assert.equal(live.prepare(q).all().length, 0);
        live.close();
        const fromBackup = await t.reopen({ COFFER_DB_URL: `sqlite:${copy}` });
        const found = await internals(fromBackup).store.read(ALL, (db) =>
          db.selectFrom("scope_keys").select(["kid", "wrapped_key"]).where("owner_id", "=", "backed").execute(),
        );
        assert.equal(found.length, 1);
        assert.equal(found[0]?.kid, "primary");
        const revealed = await fromBackup.secrets.reveal(ACTOR, CTX, { owner: "project/backed", key: "A", reason: "restore drill" });
        assert.equal(revealed.value.revealText(), "a2");
      });
    }
  });
}

describe("parseRetention", () => {
  it("reads whole minutes, hours and days", () => {
    assert.equal(parseRetention("90m", "--backup-retention"), 90 * 60_000);
    assert.equal(parseRetention("12h", "--backup-retention"), 12 * 3_600_000);
    assert.equal(parseRetention("30d", "--backup-retention"), 30 * DAY_MS);
    assert.equal(formatRetention(30 * DAY_MS), "30d");
    assert.equal(formatRetention(36 * 3_600_000), "36h");
    assert.equal(formatRetention(90 * 60_000), "90m");
  });

  it("rejects anything else, naming the field", () => {
    for (const bad of ["", "30", "0d", "30 d", " 30d", "30D", "1w", "1.5d", "-1d", "030d", "100000d", "30dd"]) {
      assert.throws(
        () => parseRetention(bad, "--backup-retention"),
        (e: unknown) => e instanceof CofferError && e.code === "INVALID_INPUT" && e.message.startsWith("--backup-retention: "),
        JSON.stringify(bad),
      );
    }
  });
});
