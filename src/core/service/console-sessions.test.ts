import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { sha256Hex, type Effects } from "../crypto/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../test/fixtures/temp-core.ts";
import { LOCAL_CONTEXT as CTX } from "./actor.ts";
import { ConsoleSessions } from "./console-sessions.ts";
import { recentAuthentication } from "./guard.ts";

const MIN = 60_000;

for (const dialect of DIALECTS) {
  describe(`console sessions (${dialect})`, () => {
    let t: TempCore;
    let token = "";
    let other = "";
    let tokenId = "";
    let now = Date.parse("2026-06-01T00:00:00Z");
    const fx: Effects = { random: (n) => new Uint8Array(randomBytes(n)), now: () => new Date(now) };
    let sessions: ConsoleSessions;

    before(async () => {
      t = await tempCore(dialect);
      const a = await t.core.tokens.create(ACTOR, CTX, {
        name: "ops",
        scopes: ["secrets:read"],
        owners: ["project/acme"],
        interactive: true,
      });
      const b = await t.core.tokens.create(ACTOR, CTX, { name: "other", scopes: ["admin"], owners: ["*"] });
      token = new TextDecoder().decode(a.token.reveal());
      other = new TextDecoder().decode(b.token.reveal());
      tokenId = a.view.id;
      sessions = new ConsoleSessions({
        store: t.core.store,
        tokens: t.core.tokens,
        audit: t.core.audit,
        policy: { idleMs: 30 * MIN, lifetimeMs: 120 * MIN },
        fx,
      });
    });
    after(() => t.cleanup());

    it("stores only a hash of the session id, carries the token's scopes and owners, and audits sign-in", async () => {
      const s = await sessions.start(token, CTX);
      assert.match(s.sessionId, /^[A-Za-z0-9_-]{43}$/);
      assert.deepEqual(s.actor.owners, ["project/acme"]);
      assert.deepEqual(s.actor.scopes, ["secrets:read"]);
      const rows = await t.core.store.read({ kind: "all", why: "test" }, (db) => db.selectFrom("console_sessions").selectAll().execute());
      assert.ok(rows.some((r) => r.id_hash === sha256Hex(s.sessionId)));
      assert.ok(!JSON.stringify(rows).includes(s.sessionId), "the id itself is not stored");
      assert.ok(!JSON.stringify(rows).includes(token), "nor the token");
      const events = await t.core.audit.listAs(ACTOR, CTX, { owner: null, action: "console.signin", afterSeq: 0, limit: 10 });
      assert.equal(events.events.at(-1)?.actor, `token:${tokenId}`);
      assert.ok(sessions.csrfMatches(s.sessionId, s.csrf));
      assert.ok(!sessions.csrfMatches(s.sessionId, "0".repeat(64)));
      assert.notEqual(s.csrf, sha256Hex(s.sessionId), "the CSRF token is not the stored hash");
    });

    it("ends after the idle timeout, and at the absolute lifetime however active", async () => {
      const s = await sessions.start(token, CTX);
      now += 29 * MIN;
      await sessions.resolve(s.sessionId);
      now += 29 * MIN;
      await sessions.resolve(s.sessionId);
      now += 31 * MIN;
      await assert.rejects(sessions.resolve(s.sessionId), { code: "UNAUTHENTICATED" });

      const busy = await sessions.start(token, CTX);
      for (let i = 0; i < 4; i++) {
        now += 29 * MIN;
        await sessions.resolve(busy.sessionId);
      }
      now += 5 * MIN; // 121 minutes after sign-in
      await assert.rejects(sessions.resolve(busy.sessionId), { code: "UNAUTHENTICATED" });
    });

    it("re-authentication needs the same token and resets the time the reveal rule checks", async () => {
      const s = await sessions.start(token, CTX);
      now += 20 * MIN;
      const rule = recentAuthentication(15 * MIN, fx);
      const stale = await sessions.resolve(s.sessionId);
      assert.equal((await rule(stale.actor, CTX)).ok, false);
      await assert.rejects(sessions.reauthenticate(s.sessionId, other, CTX), { code: "UNAUTHENTICATED" });
      const fresh = await sessions.reauthenticate(s.sessionId, token, CTX);
      assert.equal((await rule(fresh.actor, CTX)).ok, true);
      assert.equal((await rule((await sessions.resolve(s.sessionId)).actor, CTX)).ok, true);
    });

    it("is shared by every server on the database: sign-out on one ends it on the other", async () => {
      now = Date.now(); // the second server keeps real time
      const s = await sessions.start(token, CTX);
      const second = await t.reopen();
      const there = await second.sessions.resolve(s.sessionId);
      assert.equal(there.actor.tokenId, tokenId);
      await sessions.end(s.sessionId, CTX);
      await assert.rejects(second.sessions.resolve(s.sessionId), { code: "UNAUTHENTICATED" });
      await assert.rejects(sessions.resolve(s.sessionId), { code: "UNAUTHENTICATED" });
    });

    it("ends when its token is revoked, and refuses a malformed or unknown id", async () => {
      const s = await sessions.start(token, CTX);
      await t.core.tokens.revoke(ACTOR, CTX, tokenId);
      await assert.rejects(sessions.resolve(s.sessionId), { code: "UNAUTHENTICATED" });
      await assert.rejects(sessions.resolve("x"), { code: "UNAUTHENTICATED" });
      await assert.rejects(sessions.resolve("A".repeat(43)), { code: "UNAUTHENTICATED" });
      await assert.rejects(sessions.start(token, CTX), { code: "UNAUTHENTICATED" });
    });
  });
}
