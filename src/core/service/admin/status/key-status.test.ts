import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Secret } from "../../../secret/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../../test/fixtures/temp-core.ts";
import { LOCAL_CONTEXT } from "../../access/actor.ts";
import { keyStatus } from "./key-status.ts";
import { internals } from "../../internals.ts";

for (const dialect of DIALECTS) {
  describe(`keyStatus (${dialect})`, () => {
    let t: TempCore;
    before(async () => {
      t = await tempCore(dialect);
      for (const owner of ["project/a", "project/b", "user/c"]) {
        await t.core.secrets.set(ACTOR, LOCAL_CONTEXT, { owner, key: "K", value: Secret.fromString("v") });
      }
      await t.core.secrets.set(ACTOR, LOCAL_CONTEXT, { owner: "project/a", key: "K", value: Secret.fromString("v2") });
    });
    after(async () => {
      await t.cleanup();
    });

    it("counts every owner's scope keys and versions under the active kid, across owners", async () => {
      const s = await keyStatus(internals(t.core));
      assert.equal(s.active, "primary");
      assert.equal(s.keys.length, 1);
      const k = s.keys[0];
      assert.ok(k !== undefined);
      assert.deepEqual([k.scopeKeys, k.owners, k.secretVersions, k.internalKeys, k.wrapCount], [3, 3, 4, 4, 7]);
      assert.deepEqual(s.totals, { secrets: 3, liveSecrets: 3, versions: 4 });
      assert.ok(k.nonceBudgetUsed > 0 && k.nonceBudgetUsed < 1e-8);
    });
  });
}
