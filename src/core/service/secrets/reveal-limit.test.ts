import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CofferError } from "../../errors/index.ts";
import { Secret } from "../../secret/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../test/fixtures/temp-core.ts";
import { LOCAL_CONTEXT as CTX, type TokenActor } from "../access/actor.ts";
import type { Core } from "../index.ts";
import { internals } from "../internals.ts";

// The per-token reveal limit is counted in the transaction of the reveal's own audit event (the
// audit log's group commit): concurrent reveals on two cores sharing one database must still be
// limited exactly, and every attempt (a missing key too) must count, as when each hit had a
// transaction of its own.
const LIMIT = 7;
const OWNER = "project/lim";

for (const dialect of DIALECTS) {
  describe(`reveal limit counted with the audit event (${dialect})`, () => {
    let t: TempCore;
    let other: Core;
    before(async () => {
      t = await tempCore(dialect, { COFFER_RATE_LIMIT_REVEAL: `${String(LIMIT)}/1h` });
      other = await t.reopen();
      for (let i = 0; i < 5; i++)
        await t.core.secrets.set(ACTOR, CTX, { owner: OWNER, key: `K${String(i)}`, value: Secret.fromString(`v${String(i)}`) });
    });
    after(async () => {
      await t.cleanup();
    });

    const token = async (name: string): Promise<TokenActor> => {
      const made = await t.core.tokens.create(ACTOR, CTX, { name, scopes: ["secrets:reveal"], owners: [OWNER] });
      return t.core.tokens.authenticate(made.token.revealText());
    };
    const eventsOf = async (actor: TokenActor) =>
      (await internals(t.core).audit.list({ owner: null, action: "secret.reveal", afterSeq: 0, limit: 1000 })).filter(
        (e) => e.actor === `token:${actor.tokenId}`,
      );

    it("answers exactly the limit, one after the other, then RATE_LIMITED with a retry time, audited", async () => {
      const actor = await token("sequential");
      for (let i = 0; i < LIMIT; i++) {
        const r = await t.core.secrets.reveal(actor, CTX, { owner: OWNER, key: "K0", reason: "seq" });
        assert.equal(r.value.revealText(), "v0");
      }
      await assert.rejects(t.core.secrets.reveal(actor, CTX, { owner: OWNER, key: "K0", reason: "seq" }), (e: unknown) => {
        assert.ok(e instanceof CofferError && e.code === "RATE_LIMITED");
        assert.equal(e.details["limit"], "reveal");
        const retry = Number(e.details["retryAfter"]);
        assert.ok(retry >= 1 && retry <= 3600, `retryAfter ${String(retry)}`);
        return true;
      });
      // Over the limit, a missing key says RATE_LIMITED too (not whether it exists).
      await assert.rejects(
        t.core.secrets.reveal(actor, CTX, { owner: OWNER, key: "NOPE", reason: "seq" }),
        (e: unknown) => e instanceof CofferError && e.code === "RATE_LIMITED",
      );
      const events = await eventsOf(actor);
      assert.equal(events.filter((e) => e.outcome === "success").length, LIMIT);
      const denied = events.filter((e) => e.outcome === "denied");
      assert.deepEqual(
        denied.map((e) => [e.key, e.reason, e.details["rule"]]),
        [
          ["K0", "seq", "reveal rate limit"],
          ["NOPE", "seq", "reveal rate limit"],
        ],
      );
    });

    it("holds exactly under concurrent reveals on two cores, counting reveals of a missing key", async () => {
      const actor = await token("concurrent");
      const attempts = Array.from({ length: 24 }, (_, i) => ({
        core: i % 2 === 0 ? t.core : other,
        key: i % 6 === 5 ? "MISSING" : `K${String(i % 5)}`,
      }));
      const results = await Promise.allSettled(
        attempts.map((a) => a.core.secrets.reveal(actor, CTX, { owner: OWNER, key: a.key, reason: "burst" })),
      );
      const codes = results.map((r) =>
        r.status === "fulfilled" ? "ok" : r.reason instanceof CofferError ? r.reason.code : String(r.reason),
      );
      const limited = codes.filter((c) => c === "RATE_LIMITED").length;
      assert.equal(limited, attempts.length - LIMIT, codes.join(","));
      for (const c of codes) assert.ok(["ok", "NOT_FOUND", "RATE_LIMITED"].includes(c), codes.join(","));
      results.forEach((r, i) => {
        if (r.status === "fulfilled") assert.equal(r.value.value.revealText(), `v${(attempts[i]?.key ?? "").slice(1)}`);
      });
      const events = await eventsOf(actor);
      assert.equal(events.filter((e) => e.outcome === "success").length, codes.filter((c) => c === "ok").length);
      assert.equal(events.filter((e) => e.outcome === "denied" && e.details["rule"] === "reveal rate limit").length, limited);
      // One more, alone, on either core: still refused (the count is shared).
      await assert.rejects(
        other.secrets.reveal(actor, CTX, { owner: OWNER, key: "K1", reason: "after" }),
        (e: unknown) => e instanceof CofferError && e.code === "RATE_LIMITED",
      );
    });

    it("does not limit the local operator", async () => {
      for (let i = 0; i < LIMIT + 2; i++) await t.core.secrets.reveal(ACTOR, CTX, { owner: OWNER, key: "K2", reason: "local" });
    });
  });
}
