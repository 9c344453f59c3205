import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { CofferError } from "../../errors/index.ts";
import { Secret } from "../../secret/index.ts";
import { integrityRepo, secretRepo } from "../../store/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../test/fixtures/temp-core.ts";
import { rawExec, rawQuery } from "../../../../test/fixtures/raw-db.ts";
import { LOCAL_CONTEXT as CTX } from "../access/actor.ts";
import type { Core } from "../index.ts";
import { internals } from "../internals.ts";
import { markMac, STATE_MACS_MARK, UPGRADE_ACTION } from "./integrity-marks.ts";
import { format1Mac, STATE_MAC_PURPOSE } from "./secret-state.ts";

const tampered = (e: unknown): boolean => {
  assert.ok(e instanceof CofferError, String(e));
  assert.equal(e.code, "STATE_TAMPERED", e.message);
  assert.ok(!e.message.includes("value-"), "never the value");
  return true;
};

/**
 * Makes a core's database look exactly as one written by Coffer before state MAC format 2: every
 * row's MAC is format 1 (HMAC-SHA-256 under a `state-mac` key) and the marker names format 1
 * (no digest), MAC'd under that key. @returns each key name's format-1 MAC.
 */
async function downgradeToFormat1(core: Core): Promise<Map<string, Uint8Array>> {
  const { store, keys } = internals(core);
  await keys.ensureInternalKey(STATE_MAC_PURPOSE);
  const macs = new Map<string, Uint8Array>();
  await store.transaction({ kind: "all", why: "test: format-1 database" }, async (tx) => {
    const k = await keys.internalKey(tx, STATE_MAC_PURPOSE);
    const rows = await secretRepo.listAllSecrets(tx, 0, 1000);
    for (const r of rows) {
      const mac = format1Mac(k.key, r);
      macs.set(r.key_name, mac);
      await secretRepo.updateSecret(tx, r.id, { state_mac: mac });
    }
    const mark = { name: STATE_MACS_MARK, seq: rows.length, digest: new Uint8Array(0) };
    await integrityRepo.putMark(tx, { ...mark, key_id: k.id, mac: markMac(k.key, mark), updated_at: new Date().toISOString() });
  });
  return macs;
}

async function putMac(core: Core, key: string, mac: Uint8Array): Promise<void> {
  const { store } = internals(core);
  await store.transaction({ kind: "all", why: "test: plant a MAC" }, async (tx) => {
    const r = await secretRepo.findSecret(tx, { ownerType: "project", ownerId: "a" }, key);
    assert.ok(r !== null);
    await secretRepo.updateSecret(tx, r.id, { state_mac: mac });
  });
}

for (const dialect of DIALECTS) {
  describe(`state MAC format 2: the one-time upgrade of a format-1 database (${dialect})`, () => {
    let t: TempCore;
    let format1: Map<string, Uint8Array>;
    beforeEach(async () => {
      t = await tempCore(dialect);
      const set = (key: string, value: string, meta?: Record<string, string>) =>
        t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key, value: Secret.fromString(value), ...(meta ? { meta } : {}) });
      await set("K", "value-1", { team: "core" });
      await set("K", "value-2-current");
      await set("OTHER", "value-other");
      await set("GONE", "value-gone");
      await t.core.secrets.unset(ACTOR, CTX, { owner: "project/a", key: "GONE" });
      format1 = await downgradeToFormat1(t.core);
      await t.core.close();
    });
    afterEach(async () => {
      await t.cleanup();
    });

    const reveal = (core: Core, key: string) => core.secrets.reveal(ACTOR, CTX, { owner: "project/a", key, reason: "upgrade test" });
    const upgrades = async (core: Core) =>
      (await core.audit.list(ACTOR, CTX, { owner: null, action: UPGRADE_ACTION, afterSeq: 0, limit: 100 })).events.map((e) => e.details);

    it("verifies each format-1 MAC, replaces it with a format-2 one, records the format and audits it once", async () => {
      const [before] = await rawQuery<{ n: number | string }>(t, "SELECT COUNT(*) AS n FROM secrets");
      const core = await t.reopen();
      const macs = await rawQuery<{ key_name: string; state_mac: Uint8Array }>(
        t,
        "SELECT key_name, state_mac FROM secrets ORDER BY key_name",
      );
      assert.equal(macs.length, Number(before?.n));
      for (const m of macs) {
        assert.equal(m.state_mac.byteLength, 33, m.key_name);
        assert.equal(m.state_mac[0], 2, m.key_name);
      }
      const [mark] = await rawQuery<{ digest: Uint8Array }>(t, `SELECT digest FROM integrity_marks WHERE name = '${STATE_MACS_MARK}'`);
      assert.deepEqual([...(mark?.digest ?? [])], [2]);
      assert.deepEqual(await upgrades(core), [{ secrets: 3, refused: 0, format: 2 }]);
      assert.equal((await reveal(core, "K")).value.revealText(), "value-2-current");
      assert.deepEqual((await core.secrets.get(ACTOR, CTX, { owner: "project/a", key: "K" })).meta, { team: "core" });
      await assert.rejects(
        core.secrets.get(ACTOR, CTX, { owner: "project/a", key: "GONE" }),
        (e: unknown) => e instanceof CofferError && e.code === "NOT_FOUND",
      );
      assert.deepEqual((await core.audit.verify(ACTOR, CTX, {})).problems, []);
      // A second open finds the marker at format 2 and does nothing.
      const again = await t.reopen();
      assert.equal((await upgrades(again)).length, 1);
      assert.equal((await reveal(again, "OTHER")).value.revealText(), "value-other");
    });

    it("leaves a row whose format-1 MAC does not verify as it is, so reads keep refusing it", async () => {
      await rawExec(t, ["UPDATE secrets SET current_version = 1 WHERE owner_id = 'a' AND key_name = 'K'"]);
      const core = await t.reopen();
      assert.deepEqual(await upgrades(core), [{ secrets: 2, refused: 1, format: 2 }]);
      assert.ok(
        t.logger.lines.some((l) => l.includes("refused")),
        "a warning names the count",
      );
      await assert.rejects(reveal(core, "K"), tampered);
      await assert.rejects(core.secrets.get(ACTOR, CTX, { owner: "project/a", key: "K" }), tampered);
      assert.equal((await reveal(core, "OTHER")).value.revealText(), "value-other");
    });

    it("serves a row an older Coffer wrote beside it (a format-1 MAC that verifies), refuses a format-1 MAC of an older state, and rewrites the row as format 2 on its next write", async () => {
      const core = await t.reopen();
      const { store, keys } = internals(core);
      // What an older server, still running during a rolling upgrade, writes: a format-1 MAC of the row as it is.
      await store.transaction({ kind: "all", why: "test: an older server's write" }, async (tx) => {
        const k = await keys.internalKey(tx, STATE_MAC_PURPOSE);
        const r = await secretRepo.findSecret(tx, { ownerType: "project", ownerId: "a" }, "OTHER");
        assert.ok(r !== null);
        await secretRepo.updateSecret(tx, r.id, { state_mac: format1Mac(k.key, r) });
      });
      const fresh = await t.reopen();
      assert.equal((await reveal(fresh, "OTHER")).value.revealText(), "value-other");
      await fresh.secrets.set(ACTOR, CTX, { owner: "project/a", key: "OTHER", value: Secret.fromString("value-other-2") });
      const [row] = await rawQuery<{ state_mac: Uint8Array }>(
        t,
        "SELECT state_mac FROM secrets WHERE owner_id = 'a' AND key_name = 'OTHER'",
      );
      assert.equal(row?.state_mac.byteLength, 33);
      // K's format-1 MAC from before the upgrade, planted after a rollback of K: refused.
      const oldK = format1.get("K");
      assert.ok(oldK !== undefined);
      await rawExec(t, ["UPDATE secrets SET current_version = 1 WHERE owner_id = 'a' AND key_name = 'K'"]);
      await putMac(fresh, "K", oldK);
      await assert.rejects(reveal(await t.reopen(), "K"), tampered);
    });

    it("refuses to start when the marker was restored to format 1 after the upgrade, instead of converting rows again", async () => {
      const core = await t.reopen();
      const { store, keys } = internals(core);
      await store.transaction({ kind: "all", why: "test: revert the marker" }, async (tx) => {
        const k = await keys.internalKey(tx, STATE_MAC_PURPOSE);
        const mark = { name: STATE_MACS_MARK, seq: 3, digest: new Uint8Array(0) };
        await integrityRepo.putMark(tx, { ...mark, key_id: k.id, mac: markMac(k.key, mark), updated_at: new Date().toISOString() });
      });
      await assert.rejects(t.reopen(), (e: unknown) => tampered(e) && /marker is older than the format upgrade/.test((e as Error).message));
      const v = await core.audit.verify(ACTOR, CTX, {});
      assert.equal(v.ok, false);
      assert.match(v.problems.map((p) => p.problem).join("\n"), /marker is older than the format upgrade/);
    });
  });
}
