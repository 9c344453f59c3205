import type { RateLimit } from "../../config/index.ts";
import { systemEffects, type Effects } from "../../crypto/index.ts";
import { CofferError } from "../../errors/index.ts";
import { NO_OWNERS, requestRepo, type Executor, type Store } from "../../store/index.ts";
import type { Actor, RequestContext, TokenActor } from "./actor.ts";

/** A re-auth hook's answer: allowed, or refused with a reason that is safe to log and audit. */
export type ReauthDecision = { readonly ok: true } | { readonly ok: false; readonly why: string };

/**
 * Decides whether a token's holder authenticated recently enough to reveal. Pluggable: a 2FA
 * check can inspect `ctx.reauth` (what the client sent in `X-Coffer-Reauth`) and answer.
 */
export type ReauthHook = (actor: TokenActor, ctx: RequestContext) => ReauthDecision | Promise<ReauthDecision>;

/**
 * The default hook: a token marked interactive (a person's) must have authenticated within
 * `windowMs`; service tokens are not interactive and pass.
 */
export function recentAuthentication(windowMs: number, fx: Effects = systemEffects): ReauthHook {
  return (actor) => {
    if (!actor.interactive) return { ok: true };
    const age = fx.now().getTime() - Date.parse(actor.authenticatedAt);
    return age <= windowMs
      ? { ok: true }
      : { ok: false, why: `interactive token authenticated ${String(Math.round(age / 1000))}s ago (window ${String(windowMs / 1000)}s)` };
  };
}

export type LimitKind = "reveal" | "write";

/**
 * One request's hit on a per-token limit, counted by whoever commits it ({@link RateLimiter.hitFor}):
 * the audit log counts a reveal's hit in the transaction of the reveal's own event, so a reveal
 * costs one write transaction, not two. Hits of one bucket committed together are counted in
 * one statement, and each learns its own count (as if counted one after the other).
 */
export interface LimitHit {
  /** Hits with the same bucket count against the same window and limit. */
  readonly bucket: string;
  /** Adds `hits` hits now. @returns the count after them and the window they fell in. */
  count(tx: Executor, hits: number): Promise<{ readonly count: number; readonly windowStart: number }>;
  /** The refusal of a hit whose count (its own included) is `count`, or null when within the limit. */
  refusal(count: number, windowStart: number): CofferError | null;
}

/**
 * Per-token fixed-window rate limits, counted in the database (one atomic upsert per hit, or
 * per bucket of a committed batch), so several servers on one PostgreSQL share them. The local
 * operator is not limited.
 */
export class RateLimiter {
  readonly #store: Store;
  readonly #limits: Readonly<Record<LimitKind, RateLimit | null>>;
  readonly #fx: Effects;
  #lastSweep = 0;

  constructor(store: Store, limits: Readonly<Record<LimitKind, RateLimit | null>>, fx: Effects = systemEffects) {
    this.#store = store;
    this.#limits = limits;
    this.#fx = fx;
  }

  /** Counts one hit in a transaction of its own. @throws CofferError RATE_LIMITED with `retryAfter` (seconds) in its details. */
  async hit(actor: Actor, kind: LimitKind): Promise<void> {
    const hit = this.hitFor(actor, kind);
    if (hit === null) return;
    const r = await this.#store.transaction(NO_OWNERS, (tx) => hit.count(tx, 1));
    const refused = hit.refusal(r.count, r.windowStart);
    if (refused !== null) throw refused;
  }

  /**
   * The hit this actor's request makes on the `kind` limit, for the caller to count in its own
   * transaction, or null when no limit applies (limit off, or the local operator). Counted or
   * not, it has no effect until its transaction commits.
   */
  hitFor(actor: Actor, kind: LimitKind): LimitHit | null {
    const limit = this.#limits[kind];
    if (limit === null || actor.kind !== "token") return null;
    return {
      bucket: `${kind}:${actor.tokenId}`,
      count: async (tx, hits) => {
        const nowS = this.#nowS();
        if (nowS - this.#lastSweep > 3600) {
          this.#lastSweep = nowS;
          await requestRepo.deleteRateLimitsBefore(tx, nowS - 86_400);
        }
        return requestRepo.hitRateLimit(tx, `${kind}:${actor.tokenId}`, nowS - (nowS % limit.windowSeconds), hits);
      },
      refusal: (count, windowStart) => {
        if (count <= limit.count) return null;
        const retryAfter = Math.max(1, windowStart + limit.windowSeconds - this.#nowS());
        return new CofferError(
          "RATE_LIMITED",
          `${kind} rate limit of ${String(limit.count)} per ${String(limit.windowSeconds)}s reached; retry in ${String(retryAfter)}s`,
          { limit: kind, retryAfter },
        );
      },
    };
  }

  #nowS(): number {
    return Math.floor(this.#fx.now().getTime() / 1000);
  }
}
