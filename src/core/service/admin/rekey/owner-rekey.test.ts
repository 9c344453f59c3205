import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CofferError } from "../../../errors/index.ts";
import { Secret } from "../../../secret/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../../test/fixtures/temp-core.ts";
import { LOCAL_CONTEXT as CTX } from "../../access/actor.ts";
import { keyStatus } from "../status/key-status.ts";
import { OwnerRekey } from "./owner-rekey.ts";
import { internals } from "../../internals.ts";

for (const dialect of DIALECTS) {
  describe(`OwnerRekey (${dialect})`, () => {
    let t: TempCore;
    const owner = "project/rk";
    before(async () => {
      t = await tempCore(dialect);
      await t.core.secrets.set(ACTOR, CTX, { owner, key: "A", value: Secret.fromString("a1") });
      await t.core.secrets.set(ACTOR, CTX, { owner, key: "A", value: Secret.fromString("a2") });
      await t.core.secrets.set(ACTOR, CTX, { owner, key: "GONE", value: Secret.fromString("g") });
      await t.core.secrets.unset(ACTOR, CTX, { owner, key: "GONE" });
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/other", key: "A", value: Secret.fromString("o") });
    });
    after(async () => {
      await t.cleanup();
    });

    it("rewraps every version under a new scope key, keeps every value, and deletes the old key", async () => {
      const other = await t.reopen(); // another server, still caching the old scope key
      await other.secrets.set(ACTOR, CTX, { owner, key: "WARM", value: Secret.fromString("w") });
      const r = await new OwnerRekey(internals(t.core)).rekey(ACTOR, CTX, { owner });
      assert.equal(r.rewrapped, 4);
      assert.equal(r.retiredScopeKeys, 1);
      assert.equal((await t.core.secrets.reveal(ACTOR, CTX, { owner, key: "A", version: 1, reason: "r" })).value.revealText(), "a1");
      assert.equal((await t.core.secrets.reveal(ACTOR, CTX, { owner, key: "A", reason: "r" })).value.revealText(), "a2");
      // The stale server's next write notices the retired key and seals under the new one.
      await other.secrets.set(ACTOR, CTX, { owner, key: "AFTER", value: Secret.fromString("x") });
      assert.equal((await t.core.secrets.reveal(ACTOR, CTX, { owner, key: "AFTER", reason: "r" })).value.revealText(), "x");
      const status = await keyStatus(internals(t.core));
      assert.equal(status.keys[0]?.scopeKeys, 2, "one scope key per owner again");
      assert.equal((await t.core.secrets.reveal(ACTOR, CTX, { owner: "project/other", key: "A", reason: "r" })).value.revealText(), "o");
      const events = await internals(t.core).audit.list({ owner: null, action: "owner.rekey", afterSeq: 0, limit: 10 });
      assert.deepEqual(
        events.map((e) => [e.owner, e.outcome, e.details]),
        [[owner, "success", { rewrapped: 4, retiredScopeKeys: 1 }]],
      );
      assert.equal((await internals(t.core).audit.verify()).ok, true);
    });

    it("refuses an owner with nothing stored", async () => {
      await assert.rejects(
        new OwnerRekey(internals(t.core)).rekey(ACTOR, CTX, { owner: "project/nobody" }),
        (e: unknown) => e instanceof CofferError && e.code === "NOT_FOUND",
      );
    });
  });
}
