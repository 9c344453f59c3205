import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { CofferError } from "../../errors/index.ts";
import { Secret } from "../../secret/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../test/fixtures/temp-core.ts";
import { rawExec, rawQuery } from "../../../../test/fixtures/raw-db.ts";
import { LOCAL_CONTEXT, LOCAL_CONTEXT as CTX } from "../access/actor.ts";
import { internals } from "../internals.ts";

const tampered = (e: unknown): boolean => {
  assert.ok(e instanceof CofferError, String(e));
  assert.equal(e.code, "STATE_TAMPERED", e.message);
  assert.ok(!e.message.includes("alpha"), "never the value");
  return true;
};
const K = "owner_id = 'a' AND key_name = 'K'";
const K_ID = `(SELECT id FROM secrets WHERE ${K})`;

for (const dialect of DIALECTS) {
  describe(`secret state under a database writer without the key (${dialect})`, () => {
    let t: TempCore;
    beforeEach(async () => {
      t = await tempCore(dialect);
      const set = (key: string, value: string, meta?: Record<string, string>) =>
        t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key, value: Secret.fromString(value), ...(meta ? { meta } : {}) });
      await set("K", "alpha-1", { team: "core" });
      await set("K", "alpha-2-current");
      await set("OTHER", "other");
      await set("GONE", "gone-value");
      await t.core.secrets.unset(ACTOR, CTX, { owner: "project/a", key: "GONE" });
    });
    afterEach(async () => {
      await t.cleanup();
    });

    const reveal = (key: string) => t.core.secrets.reveal(ACTOR, CTX, { owner: "project/a", key, reason: "tamper test" });
    const runAll = () => t.core.secrets.revealAll(ACTOR, CTX, { owner: "project/a", reason: "run" });
    const expectVerifyNames = async (what: RegExp) => {
      const v = await internals(t.core).audit.verify();
      assert.equal(v.ok, false);
      assert.match(v.problems.map((p) => p.problem).join("\n"), what);
    };

    it("refuses a secret whose current version was rolled back, in get, reveal, run and history", async () => {
      await rawExec(t, [`UPDATE secrets SET current_version = 1 WHERE ${K}`]);
      await assert.rejects(reveal("K"), tampered);
      await assert.rejects(t.core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner: "project/a", key: "K" }), tampered);
      await assert.rejects(runAll(), tampered);
      await assert.rejects(t.core.secrets.history(ACTOR, LOCAL_CONTEXT, { owner: "project/a", key: "K" }), tampered);
      await expectVerifyNames(/project\/a K: .*(does not verify|rolled back)/);
    });

    it("refuses a secret whose newest version row was deleted, with or without rolling current_version back", async () => {
      await rawExec(t, [`DELETE FROM secret_versions WHERE version = 2 AND secret_id = ${K_ID}`]);
      await assert.rejects(reveal("K"), tampered);
      await assert.rejects(runAll(), tampered);
      await expectVerifyNames(/project\/a K: .*current version v2 was deleted/);
      await rawExec(t, [`UPDATE secrets SET current_version = 1 WHERE ${K}`]);
      await assert.rejects(reveal("K"), tampered);
      await assert.rejects(runAll(), tampered);
    });

    it("refuses an undeleted secret (deleted_at cleared)", async () => {
      await rawExec(t, ["UPDATE secrets SET deleted_at = NULL WHERE key_name = 'GONE'"]);
      await assert.rejects(reveal("GONE"), tampered);
      await assert.rejects(t.core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner: "project/a", key: "GONE" }), tampered);
      await assert.rejects(runAll(), tampered);
      await expectVerifyNames(/project\/a GONE: /);
    });

    it("refuses edited metadata, a MAC copied from another secret, and a removed (NULL) MAC", async () => {
      for (const attack of [
        `UPDATE secrets SET meta = '{"team":"mallory"}' WHERE ${K}`,
        `UPDATE secrets SET state_mac = (SELECT state_mac FROM secrets WHERE owner_id = 'a' AND key_name = 'OTHER') WHERE ${K}`,
        `UPDATE secrets SET state_mac = NULL WHERE ${K}`,
      ]) {
        const [before] = await rawQuery<{ meta: unknown; state_mac: Uint8Array }>(t, `SELECT meta, state_mac FROM secrets WHERE ${K}`);
        assert.ok(before !== undefined);
        await rawExec(t, [attack]);
        await assert.rejects(t.core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner: "project/a", key: "K" }), tampered, attack);
        await assert.rejects(reveal("K"), tampered, attack);
        await expectVerifyNames(/project\/a K: /);
        // Put the row back as it was: it verifies again (the MAC is over the state, nothing else).
        await rawExec(t, [
          `UPDATE secrets SET meta = '${typeof before.meta === "string" ? before.meta : JSON.stringify(before.meta)}', state_mac = ${
            dialect === "sqlite"
              ? `x'${Buffer.from(before.state_mac).toString("hex")}'`
              : `'\\x${Buffer.from(before.state_mac).toString("hex")}'`
          } WHERE ${K}`,
        ]);
        assert.equal((await reveal("K")).value.revealText(), "alpha-2-current");
      }
    });

    it("refuses to write a new version on top of a tampered row, and writes nothing", async () => {
      await rawExec(t, [`UPDATE secrets SET current_version = 1 WHERE ${K}`]);
      await assert.rejects(t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key: "K", value: Secret.fromString("new") }), tampered);
      const [n] = await rawQuery<{ n: number | string }>(t, `SELECT count(*) AS n FROM secret_versions WHERE secret_id = ${K_ID}`);
      assert.equal(Number(n?.n), 2);
    });

    it("audit verify catches a whole row replayed from an earlier copy (with its own valid MAC) by the chain's write events", async () => {
      const R = "owner_id = 'a' AND key_name = 'R'";
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key: "R", value: Secret.fromString("leaked-v1") });
      const [old] = await rawQuery<{ at: string; mac: Uint8Array }>(
        t,
        `SELECT CAST(updated_at AS TEXT) AS at, state_mac AS mac FROM secrets WHERE ${R}`,
      );
      assert.ok(old !== undefined);
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key: "R", value: Secret.fromString("rotated-v2") });
      const mac = dialect === "sqlite" ? `x'${Buffer.from(old.mac).toString("hex")}'` : `'\\x${Buffer.from(old.mac).toString("hex")}'`;
      await rawExec(t, [
        `DELETE FROM secret_versions WHERE version = 2 AND secret_id = (SELECT id FROM secrets WHERE ${R})`,
        `UPDATE secrets SET current_version = 1, updated_at = '${old.at}', state_mac = ${mac} WHERE ${R}`,
      ]);
      // The row is exactly as Coffer once wrote it, so reads cannot tell (DESIGN §3): the chain can.
      await expectVerifyNames(/project\/a R: the row is at v1 but the newest write event says v2 \(rolled back\)/);
    });
  });
}
