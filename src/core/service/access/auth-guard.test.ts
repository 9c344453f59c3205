import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Effects } from "../../crypto/index.ts";
import { CofferError } from "../../errors/index.ts";
import { Secret } from "../../secret/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../test/fixtures/temp-core.ts";
import type { RequestContext } from "./actor.ts";
import { addressBucket, AuthGuard } from "./auth-guard.ts";
import type { Core } from "../create-core.ts";
import { internals } from "../internals.ts";

const LIMIT = 4;
const from = (clientAddr: string): RequestContext => ({ requestId: null, clientAddr });
const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;
/** A well-formed token nobody was given: a guess, planted as a canary in the audit log. */
const GUESS = "coffer_CANARYguessCANARYguessCANARYguessCANARYgues";

async function authFailedEvents(core: Core, address: string) {
  const events = await internals(core).audit.list({ owner: null, action: "auth.failed", afterSeq: 0, limit: 1000 });
  return events.filter((e) => e.details["address"] === address);
}

for (const dialect of DIALECTS) {
  describe(`failed authentications per client address (${dialect})`, () => {
    let t: TempCore;
    let good: string;
    before(async () => {
      t = await tempCore(dialect, { COFFER_RATE_LIMIT_AUTH: `${String(LIMIT)}/1h` });
      const created = await t.core.tokens.create(ACTOR, from("127.0.0.1"), { name: "ci", scopes: ["admin"], owners: ["*"] });
      good = created.token.revealText();
    });
    after(async () => {
      await t.cleanup();
    });

    it("answers the first failures UNAUTHENTICATED, then RATE_LIMITED with retryAfter; a valid token from there too", async () => {
      const a = from("198.51.100.7");
      assert.equal(GUESS.length, "coffer_".length + 43);
      for (let i = 0; i < LIMIT; i++) await assert.rejects(t.core.tokens.authenticate(GUESS, a), code("UNAUTHENTICATED"));
      for (const token of [GUESS, good]) {
        await assert.rejects(t.core.tokens.authenticate(token, a), (e: unknown) => {
          assert.ok(e instanceof CofferError && e.code === "RATE_LIMITED", String(e));
          assert.equal(e.details["limit"], "auth");
          const retry = e.details["retryAfter"];
          assert.ok(typeof retry === "number" && retry >= 1 && retry <= 3600);
          return true;
        });
      }
      // Another address is not affected, and the local operator (no address) never is.
      assert.equal((await t.core.tokens.authenticate(good, from("198.51.100.8"))).kind, "token");
      assert.equal((await t.core.tokens.authenticate(good)).kind, "token");
    });

    it("refuses a token verified moments ago (cached) from an address once that address reaches its limit", async () => {
      const a = from("198.51.100.9");
      // Verified and cached, the address seen clean: the next call is answered without a lookup.
      assert.equal((await t.core.tokens.authenticate(good, a)).kind, "token");
      assert.equal((await t.core.tokens.authenticate(good, a)).kind, "token");
      for (let i = 0; i < LIMIT; i++) await assert.rejects(t.core.tokens.authenticate(GUESS, a), code("UNAUTHENTICATED"));
      await assert.rejects(t.core.tokens.authenticate(good, a), code("RATE_LIMITED"));
      // The same cached token from another address still passes at once.
      assert.equal((await t.core.tokens.authenticate(good, from("198.51.100.10"))).kind, "token");
    });

    it("holds across servers: another core on the same database refuses the limited address", async () => {
      const a = from("198.51.100.20");
      const other = await t.reopen({ COFFER_RATE_LIMIT_AUTH: `${String(LIMIT)}/1h` });
      for (let i = 0; i < LIMIT; i++) {
        const core = i % 2 === 0 ? t.core : other;
        await assert.rejects(core.tokens.authenticate(GUESS, a), code("UNAUTHENTICATED"));
      }
      await assert.rejects(other.tokens.authenticate(good, a), code("RATE_LIMITED"));
      await assert.rejects(t.core.tokens.authenticate(good, a), code("RATE_LIMITED"));
    });

    it("audits failures in aggregate (first failure, limit reached) and never the presented token or a digest of it", async () => {
      const events = await authFailedEvents(t.core, "198.51.100.7");
      assert.deepEqual(
        events.map((e) => [e.actor, e.outcome, e.details["failures"], e.details["limited"], e.details["credential"]]),
        [
          ["anonymous", "denied", 1, "no", "token"],
          ["anonymous", "denied", LIMIT, "yes", "token"],
        ],
      );
      const all = JSON.stringify(await internals(t.core).audit.list({ owner: null, action: null, afterSeq: 0, limit: 10_000 }));
      const secretPart = GUESS.slice("coffer_".length);
      for (const trace of [GUESS, secretPart.slice(0, 12), createHash("sha256").update(GUESS).digest("hex").slice(0, 16), good])
        assert.ok(!all.includes(trace), `audit log holds ${trace.slice(0, 4)}…`);
    });

    it("counts guessed share links against the same address, and limits them", async () => {
      const a = from("198.51.100.30");
      const guess = `coffer_share_${"A".repeat(43)}`;
      for (let i = 0; i < LIMIT; i++) await assert.rejects(t.core.secrets.redeemShare(a, guess), code("SHARE_LINK_INVALID"));
      await assert.rejects(t.core.secrets.redeemShare(a, guess), code("RATE_LIMITED"));
      await assert.rejects(t.core.tokens.authenticate(good, a), code("RATE_LIMITED"));
      const events = await authFailedEvents(t.core, "198.51.100.30");
      assert.deepEqual(
        events.map((e) => [e.details["failures"], e.details["credential"]]),
        [
          [1, "share-link"],
          [LIMIT, "share-link"],
        ],
      );
    });

    it("refuses a share link once the token that minted it is revoked, like an unknown link, audited", async () => {
      const minter = await t.core.tokens.create(ACTOR, from("127.0.0.1"), {
        name: "sharer",
        scopes: ["secrets:write", "secrets:reveal"],
        owners: ["project/sh"],
      });
      const actor = await t.core.tokens.authenticate(minter.token.revealText());
      await t.core.secrets.set(actor, from("127.0.0.1"), { owner: "project/sh", key: "K", value: Secret.fromString("v") });
      const live = await t.core.secrets.share(actor, from("127.0.0.1"), { owner: "project/sh", key: "K", reason: "handover" });
      const doomed = await t.core.secrets.share(actor, from("127.0.0.1"), { owner: "project/sh", key: "K", reason: "handover" });
      const ok = await t.core.secrets.redeemShare(from("198.51.100.40"), live.token.revealText());
      assert.equal(ok.value.revealText(), "v");
      await t.core.tokens.revoke(ACTOR, from("127.0.0.1"), minter.view.id);
      await assert.rejects(t.core.secrets.redeemShare(from("198.51.100.40"), doomed.token.revealText()), code("SHARE_LINK_INVALID"));
      const denied = (await internals(t.core).audit.list({ owner: null, action: "secret.reveal", afterSeq: 0, limit: 1000 })).filter(
        (e) => e.details["link"] === doomed.id,
      );
      assert.deepEqual(
        denied.map((e) => [e.outcome, e.details["rule"]]),
        [["denied", "the token that minted the link is revoked or expired"]],
      );
    });

    it("starts a fresh window: the limit lifts once the window has passed", async () => {
      let nowMs = Date.UTC(2030, 0, 1, 0, 0, 30);
      const fx: Effects = { random: (n) => new Uint8Array(n), now: () => new Date(nowMs) };
      const guard = new AuthGuard({
        store: internals(t.core).store,
        audit: internals(t.core).audit,
        limit: { count: 2, windowSeconds: 60 },
        fx,
      });
      const fail = () => Promise.reject(new CofferError("UNAUTHENTICATED", "authentication failed"));
      const a = from("203.0.113.9");
      await assert.rejects(guard.guard(a, "token", fail), code("UNAUTHENTICATED"));
      await assert.rejects(guard.guard(a, "token", fail), code("UNAUTHENTICATED"));
      await assert.rejects(
        guard.guard(a, "token", () => Promise.resolve(1)),
        (e: unknown) => {
          assert.ok(e instanceof CofferError && e.code === "RATE_LIMITED");
          assert.equal(e.details["retryAfter"], 30);
          return true;
        },
      );
      nowMs += 30_000;
      assert.equal(await guard.guard(a, "token", () => Promise.resolve(1)), 1);
    });
  });
}

describe("addressBucket", () => {
  it("counts IPv4 per address, IPv4-mapped IPv6 as IPv4, IPv6 per /64, and nothing for the local operator", () => {
    assert.equal(addressBucket("192.0.2.1"), "auth:192.0.2.1");
    assert.equal(addressBucket("::ffff:192.0.2.1"), "auth:192.0.2.1");
    assert.equal(addressBucket("2001:db8:1:2:aaaa::1"), "auth:2001:db8:1:2::/64");
    assert.equal(addressBucket("2001:db8:1:2:ffff:ffff:ffff:fffe"), "auth:2001:db8:1:2::/64");
    assert.equal(addressBucket("2001:0db8:0001:0002::9"), "auth:2001:db8:1:2::/64");
    assert.equal(addressBucket("::1"), "auth:0:0:0:0::/64");
    assert.equal(addressBucket(null), null);
  });
});
