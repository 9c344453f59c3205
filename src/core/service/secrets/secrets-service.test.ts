import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CofferError } from "../../errors/index.ts";
import { MASK, Secret } from "../../secret/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../test/fixtures/temp-core.ts";
import { LOCAL_CONTEXT, LOCAL_CONTEXT as CTX } from "../access/actor.ts";
import { internals } from "../internals.ts";

const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;
const val = (s: string) => Secret.fromString(s);

for (const dialect of DIALECTS) {
  describe(`SecretsService (${dialect})`, () => {
    let t: TempCore;
    before(async () => {
      t = await tempCore(dialect);
    });
    after(async () => {
      await t.cleanup();
    });

    it("returns a masked view on set and get, and the plaintext only on reveal", async () => {
      const set = await t.core.secrets.set(ACTOR, CTX, {
        owner: "project/acme",
        key: "DB_PASSWORD",
        value: val("pw-1"),
        meta: { provider: "pg" },
      });
      assert.equal(set.value, MASK);
      assert.equal(set.version, 1);
      assert.deepEqual(set.meta, { provider: "pg" });
      const got = await t.core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner: "project/acme", key: "DB_PASSWORD" });
      assert.equal(got.value, MASK);
      assert.ok(!JSON.stringify(got).includes("pw-1"));
      const r = await t.core.secrets.reveal(ACTOR, CTX, { owner: "project/acme", key: "DB_PASSWORD", reason: "debugging" });
      assert.equal(r.value.revealText(), "pw-1");
      assert.equal(String(r.value), MASK);
    });

    it("writes a new version on every set and keeps metadata unless given", async () => {
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/v", key: "K", value: val("a"), meta: { team: "x" } });
      const v2 = await t.core.secrets.set(ACTOR, CTX, { owner: "project/v", key: "K", value: val("b") });
      assert.equal(v2.version, 2);
      assert.deepEqual(v2.meta, { team: "x" });
      const v1 = await t.core.secrets.reveal(ACTOR, CTX, { owner: "project/v", key: "K", version: 1, reason: "old" });
      assert.equal(v1.value.revealText(), "a");
      const hist = await t.core.secrets.history(ACTOR, LOCAL_CONTEXT, { owner: "project/v", key: "K" });
      assert.deepEqual(
        hist.map((h) => [h.version, h.current]),
        [
          [1, false],
          [2, true],
        ],
      );
    });

    it("rejects a check-and-set whose expected version is stale, and records the conflict", async () => {
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/cas", key: "K", value: val("a"), expectedVersion: 0 });
      await assert.rejects(
        t.core.secrets.set(ACTOR, CTX, { owner: "project/cas", key: "K", value: val("b"), expectedVersion: 0 }),
        code("CONFLICT"),
      );
      const ok = await t.core.secrets.set(ACTOR, CTX, { owner: "project/cas", key: "K", value: val("c"), expectedVersion: 1 });
      assert.equal(ok.version, 2);
      const events = await internals(t.core).audit.list({ owner: null, action: "secret.set", afterSeq: 0, limit: 1000 });
      assert.ok(events.some((e) => e.key === "K" && e.outcome === "conflict"));
    });

    it("hides an unset secret, keeps its history, and continues its version numbers when set again", async () => {
      await t.core.secrets.set(ACTOR, CTX, { owner: "user/alice", key: "TOKEN", value: val("t1") });
      await t.core.secrets.unset(ACTOR, CTX, { owner: "user/alice", key: "TOKEN" });
      await assert.rejects(t.core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner: "user/alice", key: "TOKEN" }), code("NOT_FOUND"));
      const listed = await t.core.secrets.list(ACTOR, LOCAL_CONTEXT, { owner: "user/alice" });
      assert.equal(listed.items.length, 0);
      assert.equal((await t.core.secrets.list(ACTOR, LOCAL_CONTEXT, { owner: "user/alice", includeDeleted: true })).items.length, 1);
      assert.equal((await t.core.secrets.history(ACTOR, LOCAL_CONTEXT, { owner: "user/alice", key: "TOKEN" })).length, 1);
      const again = await t.core.secrets.set(ACTOR, CTX, { owner: "user/alice", key: "TOKEN", value: val("t2") });
      assert.equal(again.version, 2);
    });

    it("filters a list by a literal prefix ('_' is not a wildcard)", async () => {
      for (const k of ["DB_HOST", "DB_PASS", "DBX", "API_KEY"])
        await t.core.secrets.set(ACTOR, CTX, { owner: "project/pfx", key: k, value: val(k) });
      const r = await t.core.secrets.list(ACTOR, LOCAL_CONTEXT, { owner: "project/pfx", prefix: "DB_" });
      assert.deepEqual(r.items.map((i) => i.key).sort(), ["DB_HOST", "DB_PASS"]);
    });

    it("pages a list with a cursor", async () => {
      for (let i = 0; i < 5; i++) await t.core.secrets.set(ACTOR, CTX, { owner: "project/page", key: `K${String(i)}`, value: val("x") });
      const p1 = await t.core.secrets.list(ACTOR, LOCAL_CONTEXT, { owner: "project/page", limit: 3 });
      assert.equal(p1.items.length, 3);
      assert.notEqual(p1.nextCursor, null);
      const p2 = await t.core.secrets.list(ACTOR, LOCAL_CONTEXT, { owner: "project/page", limit: 3, cursor: p1.nextCursor ?? 0 });
      assert.deepEqual(
        [...p1.items, ...p2.items].map((i) => i.key),
        ["K0", "K1", "K2", "K3", "K4"],
      );
      assert.equal(p2.nextCursor, null);
    });

    it("keeps the system owner and same-named keys of other owners apart", async () => {
      await t.core.secrets.set(ACTOR, CTX, { owner: "system", key: "SHARED", value: val("sys") });
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/other", key: "SHARED", value: val("proj") });
      assert.equal((await t.core.secrets.reveal(ACTOR, CTX, { owner: "system", key: "SHARED", reason: "r" })).value.revealText(), "sys");
      assert.equal(
        (await t.core.secrets.reveal(ACTOR, CTX, { owner: "project/other", key: "SHARED", reason: "r" })).value.revealText(),
        "proj",
      );
    });

    it("rotates every version onto new data keys without changing values or versions", async () => {
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/rot", key: "K", value: val("one") });
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/rot", key: "K", value: val("two") });
      const rotated = await t.core.secrets.rotate(ACTOR, CTX, { owner: "project/rot", key: "K" });
      assert.equal(rotated.version, 2);
      assert.notEqual(rotated.lastRotatedAt, null);
      assert.equal(
        (await t.core.secrets.reveal(ACTOR, CTX, { owner: "project/rot", key: "K", version: 1, reason: "r" })).value.revealText(),
        "one",
      );
      assert.equal((await t.core.secrets.reveal(ACTOR, CTX, { owner: "project/rot", key: "K", reason: "r" })).value.revealText(), "two");
    });

    it("refuses a reveal without a reason and records the denial", async () => {
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/rsn", key: "K", value: val("x") });
      await assert.rejects(t.core.secrets.reveal(ACTOR, CTX, { owner: "project/rsn", key: "K", reason: "  " }), (e: unknown) => {
        assert.ok(e instanceof CofferError);
        assert.equal(e.code, "INVALID_INPUT");
        assert.match(e.message, /^reason: /);
        return true;
      });
      const events = await internals(t.core).audit.list({ owner: null, action: "secret.reveal", afterSeq: 0, limit: 1000 });
      assert.ok(events.some((e) => e.owner === "project/rsn" && e.outcome === "denied"));
    });

    it("reveals all of an owner's current values under a prefix, one audit event each", async () => {
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/run", key: "APP_A", value: val("a") });
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/run", key: "APP_B", value: val("b") });
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/run", key: "OTHER", value: val("o") });
      const all = await t.core.secrets.revealAll(ACTOR, CTX, { owner: "project/run", prefix: "APP_", reason: "run" });
      assert.deepEqual(
        [...all.entries()].map(([k, v]) => [k, v.revealText()]),
        [
          ["APP_A", "a"],
          ["APP_B", "b"],
        ],
      );
      const events = await internals(t.core).audit.list({ owner: null, action: "secret.reveal", afterSeq: 0, limit: 1000 });
      assert.equal(events.filter((e) => e.owner === "project/run" && e.reason === "run").length, 2);
    });

    it("numbers versions without gaps or duplicates under concurrent writers", async () => {
      const n = 25;
      const views = await Promise.all(
        Array.from({ length: n }, (_, i) => t.core.secrets.set(ACTOR, CTX, { owner: "project/conc", key: "K", value: val(String(i)) })),
      );
      assert.deepEqual(
        views.map((v) => v.version).sort((a, b) => a - b),
        Array.from({ length: n }, (_, i) => i + 1),
      );
    });

    it("lets exactly one of two writers with the same expected version win", async () => {
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/race", key: "K", value: val("base") });
      const results = await Promise.allSettled(
        [1, 2].map((i) => t.core.secrets.set(ACTOR, CTX, { owner: "project/race", key: "K", value: val(String(i)), expectedVersion: 1 })),
      );
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      const rejected = results.find((r) => r.status === "rejected");
      assert.ok(rejected !== undefined && code("CONFLICT")(rejected.reason));
    });

    it("keeps the audit chain verifiable after all of the above", async () => {
      const v = await internals(t.core).audit.verify();
      assert.equal(v.ok, true, JSON.stringify(v.problems));
      assert.ok(v.events > 10);
    });
  });
}
