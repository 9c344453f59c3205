import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CofferError } from "../../../errors/index.ts";
import { Secret } from "../../../secret/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../../test/fixtures/temp-core.ts";
import { rawExec } from "../../../../../test/fixtures/raw-db.ts";
import { LOCAL_CONTEXT as CTX, type TokenActor } from "../../access/actor.ts";
import { ValueCheck } from "./value-check.ts";
import { internals } from "../../internals.ts";

for (const dialect of DIALECTS) {
  describe(`secrets check (${dialect})`, () => {
    let t: TempCore;
    const set = (owner: string, key: string, value: string) =>
      t.core.secrets.set(ACTOR, CTX, { owner, key, value: Secret.fromString(value) });
    before(async () => {
      t = await tempCore(dialect);
      await set("project/prod", "DB_PASSWORD", "shared-pw");
      await set("project/dev", "DB_PASSWORD", "shared-pw");
      await set("project/prod", "API_URL", "https://prod");
      await set("project/dev", "API_URL", "https://dev");
      await set("user/alice", "ONLY_MINE", "x");
    });
    after(async () => {
      await t.cleanup();
    });
    const check = (owner?: string) => new ValueCheck(internals(t.core)).check(ACTOR, CTX, owner === undefined ? {} : { owner });

    it("finds values reused across owners and key names whose values drifted apart, decrypting nothing", async () => {
      const r = await check();
      assert.equal(r.secrets, 5);
      assert.deepEqual(
        r.reused.map((g) => g.secrets.map((s) => `${s.owner} ${s.key}`).sort()),
        [["project/dev DB_PASSWORD", "project/prod DB_PASSWORD"]],
      );
      assert.deepEqual(r.drift, [{ key: "API_URL", owners: ["project/dev", "project/prod"], distinctValues: 2 }]);
      assert.deepEqual(r.unchecked, []);
      const mine = await check("user/alice");
      assert.deepEqual([mine.secrets, mine.reused.length, mine.drift.length], [1, 0, 0]);
    });

    it("reports versions without an HMAC as unchecked until a rotation recomputes it", async () => {
      await rawExec(t, [
        "UPDATE secret_versions SET hmac = NULL, hmac_key_id = NULL WHERE secret_id = (SELECT id FROM secrets WHERE owner_id = 'alice')",
      ]);
      assert.deepEqual((await check()).unchecked, [{ owner: "user/alice", key: "ONLY_MINE", version: 1 }]);
      await t.core.secrets.rotate(ACTOR, CTX, { owner: "user/alice", key: "ONLY_MINE" });
      assert.deepEqual((await check()).unchecked, []);
    });

    it("needs admin: a token scoped to one owner cannot learn which values equal another owner's", async () => {
      const token: TokenActor = {
        kind: "token",
        tokenId: "t_1",
        name: "ci",
        scopes: ["secrets:read", "secrets:reveal", "audit:read"],
        owners: ["project/dev"],
        interactive: false,
        authenticatedAt: new Date().toISOString(),
      };
      await assert.rejects(
        new ValueCheck(internals(t.core)).check(token, CTX, { owner: "project/dev" }),
        (e: unknown) => e instanceof CofferError && e.code === "SCOPE_DENIED",
      );
    });
  });
}
