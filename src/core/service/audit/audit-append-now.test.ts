import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../test/fixtures/temp-core.ts";
import { parseOwner } from "../../model/owner.ts";
import { LOCAL_CONTEXT as CTX } from "../access/actor.ts";
import { internals } from "../internals.ts";
import type { AuditInput } from "./audit-log.ts";

/** Settles with `p`, or rejects when it has not settled after `ms` (a hang made visible, not a timing check). */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      setTimeout(() => {
        reject(new Error(`${what}: never settled`));
      }, ms).unref();
    }),
  ]);
}

const event = (i: number): AuditInput => ({
  action: "secret.get",
  owner: parseOwner("project/a"),
  key: `K${String(i)}`,
  version: null,
  reason: null,
  outcome: "denied",
});

for (const dialect of DIALECTS) {
  describe(`audit appendNow, the grouped append (${dialect})`, () => {
    let t: TempCore;
    beforeEach(async () => {
      t = await tempCore(dialect);
    });
    afterEach(async () => {
      await t.cleanup();
    });

    it("writes an event appended the moment the previous one settles (no lost wake-up at the end of a drain)", async () => {
      const audit = internals(t.core).audit;
      const before = (await audit.list({ owner: null, action: null, afterSeq: 0, limit: 1000 })).length;
      // Each append is made from the previous one's settlement: the drain that wrote the
      // previous event is finishing at that moment.
      for (let i = 0; i < 20; i++) await bounded(audit.appendNow(ACTOR, CTX, event(i)), 10_000, `append ${String(i)}`);
      // And from inside the settlement callbacks of a batch, several at once.
      const chained = await bounded(
        Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            audit.appendNow(ACTOR, CTX, event(100 + i)).then(() => audit.appendNow(ACTOR, CTX, event(200 + i))),
          ),
        ),
        10_000,
        "chained appends",
      );
      assert.equal(chained.length, 10);
      const after = await audit.list({ owner: null, action: null, afterSeq: 0, limit: 1000 });
      assert.equal(after.length - before, 40);
      assert.ok((await audit.verify(null)).ok);
    });
  });
}
