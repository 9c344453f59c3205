import type { RateLimit } from "../../config/index.ts";
import { systemEffects, type Effects } from "../../crypto/index.ts";
import { CofferError } from "../../errors/index.ts";
import { NO_OWNERS, requestRepo, type Store } from "../../store/index.ts";
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
 * Per-token fixed-window rate limits, counted in the database (one atomic upsert per hit), so
 * several servers on one PostgreSQL share them. The local operator is not limited.
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

  /** Counts one hit. @throws CofferError RATE_LIMITED with `retryAfter` (seconds) in its details. */
  async hit(actor: Actor, kind: LimitKind): Promise<void> {
    const limit = this.#limits[kind];
    if (limit === null || actor.kind !== "token") return;
    const nowS = Math.floor(this.#fx.now().getTime() / 1000);
    const windowStart = nowS - (nowS % limit.windowSeconds);
    const bucket = `${kind}:${actor.tokenId}`;
    const r = await this.#store.transaction(NO_OWNERS, async (tx) => {
      if (nowS - this.#lastSweep > 3600) {
        this.#lastSweep = nowS;
        await requestRepo.deleteRateLimitsBefore(tx, nowS - 86_400);
      }
      return requestRepo.hitRateLimit(tx, bucket, windowStart);
    });
    if (r.count > limit.count) {
      const retryAfter = Math.max(1, r.windowStart + limit.windowSeconds - nowS);
      throw new CofferError(
        "RATE_LIMITED",
        `${kind} rate limit of ${String(limit.count)} per ${String(limit.windowSeconds)}s reached; retry in ${String(retryAfter)}s`,
        { limit: kind, retryAfter },
      );
    }
  }
}
