import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { CofferError } from "../../errors/index.ts";
import { Secret } from "../../secret/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../test/fixtures/temp-core.ts";
import { rawExec } from "../../../../test/fixtures/raw-db.ts";
import { LOCAL_CONTEXT, LOCAL_CONTEXT as CTX } from "../access/actor.ts";
import { parseAnchor } from "./audit-verify.ts";
import { internals } from "../internals.ts";

for (const dialect of DIALECTS) {
  describe(`audit log truncation (${dialect})`, () => {
    let t: TempCore;
    beforeEach(async () => {
      t = await tempCore(dialect);
      for (let i = 0; i < 4; i++)
        await t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key: `K${String(i)}`, value: Secret.fromString(`v${String(i)}`) });
    });
    afterEach(async () => {
      await t.cleanup();
    });

    const events = () => internals(t.core).audit.list({ owner: null, action: null, afterSeq: 0, limit: 1000 });

    it("carries each event's full MAC in the listing, and an intact chain verifies with it as an anchor", async () => {
      const all = await events();
      const head = all.at(-1);
      assert.ok(head !== undefined);
      for (const e of all) assert.match(e.mac, /^[0-9a-f]{64}$/);
      const v = await internals(t.core).audit.verify(parseAnchor(`${String(head.seq)}:${head.mac}`));
      assert.deepEqual(v.problems, []);
      assert.equal(v.headMac, head.mac.slice(0, 16));
      // The short form verify prints is an anchor too, and so is an older event.
      assert.ok((await internals(t.core).audit.verify(parseAnchor(`${String(v.headSeq)}:${v.headMac}`))).ok);
      assert.ok((await internals(t.core).audit.verify(parseAnchor(`2:${all[1]?.mac ?? ""}`))).ok);
    });

    it("fails an anchor whose MAC is not the event's, or that is past the end of the chain", async () => {
      const head = (await events()).at(-1);
      assert.ok(head !== undefined);
      const wrong = await internals(t.core).audit.verify(parseAnchor(`${String(head.seq)}:${"0".repeat(64)}`));
      assert.equal(wrong.ok, false);
      assert.match(wrong.problems.map((p) => p.problem).join(), /not the recorded one/);
      const past = await internals(t.core).audit.verify(parseAnchor(`${String(head.seq + 5)}:${head.mac}`));
      assert.equal(past.ok, false);
      assert.match(past.problems.map((p) => p.problem).join(), /chain ends at/);
    });

    it("refuses a malformed anchor naming the field", () => {
      for (const bad of ["", "12", "x:ab", "0:00112233445566778899", "3:abc", "3:0011"])
        assert.throws(
          () => parseAnchor(bad),
          (e: unknown) => e instanceof CofferError && e.code === "INVALID_INPUT" && e.message.startsWith("anchor:"),
        );
    });

    it("detects the newest events deleted, never reuses their sequence numbers, and fails the recorded anchor", async () => {
      const before = await events();
      const head = before.at(-1);
      assert.ok(head !== undefined);
      await rawExec(t, [`DELETE FROM audit_events WHERE seq > ${String(head.seq - 2)}`]);
      const v = await internals(t.core).audit.verify(parseAnchor(`${String(head.seq)}:${head.mac}`));
      assert.equal(v.ok, false);
      const text = v.problems.map((p) => p.problem).join("\n");
      assert.match(text, /newest events were deleted/);
      assert.match(text, /chain ends at/);
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key: "NEXT", value: Secret.fromString("n") });
      const after = await events();
      assert.equal(after.at(-1)?.seq, head.seq + 1, "the next event continues after the deleted ones");
      assert.equal(new Set(after.map((e) => e.seq)).size, after.length);
      assert.equal((await internals(t.core).audit.verify()).ok, false);
    });

    it("fails a wiped log while secrets exist, with or without the head record", async () => {
      await rawExec(t, ["DELETE FROM audit_events"]);
      const v = await internals(t.core).audit.verify();
      assert.equal(v.ok, false);
      assert.equal(v.events, 0);
      await rawExec(t, ["DELETE FROM integrity_marks WHERE name = 'audit-head'"]);
      const w = await internals(t.core).audit.verify();
      assert.equal(w.ok, false);
      assert.match(w.problems.map((p) => p.problem).join("\n"), /project\/a K0: the secret exists but no event in the log wrote it/);
    });

    it("fails when the state-MAC marker was removed to have rows MAC'd again (a second backfill)", async () => {
      await rawExec(t, [
        "UPDATE secrets SET state_mac = NULL WHERE key_name = 'K1'",
        "DELETE FROM integrity_marks WHERE name = 'state-macs'",
      ]);
      const again = await t.reopen();
      assert.equal((await again.secrets.get(ACTOR, LOCAL_CONTEXT, { owner: "project/a", key: "K1" })).version, 1);
      const v = await internals(again).audit.verify();
      assert.equal(v.ok, false);
      assert.match(v.problems.map((p) => p.problem).join("\n"), /backfilled again/);
    });
  });
}
