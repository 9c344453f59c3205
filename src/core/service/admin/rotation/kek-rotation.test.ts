import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CofferError } from "../../../errors/index.ts";
import { Secret } from "../../../secret/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../../test/fixtures/temp-core.ts";
import { LOCAL_CONTEXT as CTX } from "../../access/actor.ts";
import type { Core } from "../../create-core.ts";
import { KekRotation } from "./kek-rotation.ts";
import { keyStatus } from "../status/key-status.ts";
import { internals } from "../../internals.ts";

const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;
const OWNERS = ["project/a", "project/b", "project/c", "user/d", "system"];

for (const dialect of DIALECTS) {
  describe(`KekRotation (${dialect})`, () => {
    let t: TempCore;
    let keyring = "";
    const [k1, k2] = [randomBytes(32).toString("base64"), randomBytes(32).toString("base64")];
    const writeKeyring = (active: string, keys: Record<string, string>) => {
      writeFileSync(keyring, JSON.stringify({ active, keys }), { mode: 0o600 });
    };
    let core2: Core;
    let dir = "";
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "coffer-keyring-"));
      keyring = join(dir, "keyring.json");
      writeKeyring("k1", { k1 });
      t = await tempCore(dialect, { COFFER_KEYRING_FILE: keyring });
    });
    after(async () => {
      await t.cleanup();
      rmSync(dir, { recursive: true, force: true });
    });

    it("rewraps every scope key under the new active kid, resumably, and then lets the old kid retire", async () => {
      for (const owner of OWNERS) await t.core.secrets.set(ACTOR, CTX, { owner, key: "K", value: Secret.fromString(`v-${owner}`) });
      writeKeyring("k2", { k1, k2 });
      core2 = await t.reopen({ COFFER_KEYRING_FILE: keyring });
      await assert.rejects(new KekRotation(internals(core2)).retire(ACTOR, CTX, { kid: "k1" }), code("CONFLICT"));
      // Interrupted after its first batch (a crash between batches)...
      await assert.rejects(
        new KekRotation(internals(core2)).rotate(ACTOR, CTX, {
          batchSize: 2,
          onProgress: () => {
            throw new Error("killed");
          },
        }),
      );
      const mid = await keyStatus(internals(core2));
      assert.equal(mid.keys.find((k) => k.kid === "k2")?.scopeKeys, 2);
      assert.equal(mid.rotationJobs[0]?.state, "running");
      // ...and finished by running it again, while reads and writes go on.
      await core2.secrets.set(ACTOR, CTX, { owner: "project/a", key: "DURING", value: Secret.fromString("d") });
      const r = await new KekRotation(internals(core2)).rotate(ACTOR, CTX, { batchSize: 2 });
      assert.equal(r.resumed, true);
      const done = await keyStatus(internals(core2));
      assert.equal(done.keys.find((k) => k.kid === "k1")?.scopeKeys, 0);
      assert.equal(done.keys.find((k) => k.kid === "k1")?.internalKeys, 0);
      assert.equal(done.keys.find((k) => k.kid === "k2")?.scopeKeys, OWNERS.length);
      assert.equal(done.rotationJobs[0]?.state, "done");
      for (const owner of OWNERS)
        assert.equal((await core2.secrets.reveal(ACTOR, CTX, { owner, key: "K", reason: "r" })).value.revealText(), `v-${owner}`);
      const policy = { maxWraps: 3, maxAgeMs: 86_400_000, backupRetentionMs: 30 * 86_400_000, now: new Date() };
      const withPolicy = await keyStatus(internals(core2), policy);
      const [old, fresh] = [withPolicy.keys.find((k) => k.kid === "k1"), withPolicy.keys.find((k) => k.kid === "k2")];
      const finished = withPolicy.rotationJobs[0]?.finishedAt ?? "";
      assert.equal(old?.safeToRetireAt, new Date(Date.parse(finished) + 30 * 86_400_000).toISOString());
      assert.equal(fresh?.safeToRetireAt, null, "never for the active kid");
      assert.equal(fresh.rotationDue, true, "more wraps than the policy's 3");
      assert.match(fresh.rotationDueReason ?? "", /wraps reached the limit of 3/);
      await new KekRotation(internals(core2)).retire(ACTOR, CTX, { kid: "k1" });
      // With k1 gone from the keyring everything still works: nothing needs it any more.
      writeKeyring("k2", { k2 });
      const c3 = await t.reopen({ COFFER_KEYRING_FILE: keyring });
      for (const owner of OWNERS)
        assert.equal((await c3.secrets.reveal(ACTOR, CTX, { owner, key: "K", reason: "r" })).value.revealText(), `v-${owner}`);
      assert.equal((await internals(c3).audit.verify()).ok, true);
      const events = await internals(c3).audit.list({ owner: null, action: "admin.encryption.rotate", afterSeq: 0, limit: 10 });
      assert.deepEqual(
        events.map((e) => e.outcome),
        ["error", "success"],
      );
    });

    it("refuses to retire the active kid or an unknown one", async () => {
      await assert.rejects(new KekRotation(internals(core2)).retire(ACTOR, CTX, { kid: "k2" }), code("INVALID_INPUT"));
      await assert.rejects(new KekRotation(internals(core2)).retire(ACTOR, CTX, { kid: "k9" }), code("KEY_NOT_FOUND"));
    });
  });
}
