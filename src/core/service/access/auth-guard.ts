import { isIPv4, isIPv6 } from "node:net";
import type { RateLimit } from "../../config/index.ts";
import { systemEffects, type Effects } from "../../crypto/index.ts";
import { CofferError, isCofferError } from "../../errors/index.ts";
import { NO_OWNERS, requestRepo, tokenRepo, type Executor, type Store } from "../../store/index.ts";
import { ANONYMOUS, type RequestContext } from "./actor.ts";
import type { AuditLog } from "../audit/audit-log.ts";

/** What was presented: a bearer token, or a one-time share link's token. */
export type Credential = "token" | "share-link";

const FAILURES = new Set(["UNAUTHENTICATED", "SHARE_LINK_INVALID"]);
/**
 * How long an address seen with no failure in its window is trusted without asking the
 * database again (one read per request would cost more than the rest of authenticating). Any
 * failure on this server forgets it at once; a limit reached on another server sharing the
 * database refuses this server's valid tokens from that address within this time (the guesses
 * themselves are always counted in the database).
 */
export const CLEAN_ADDRESS_CACHE_MS = 2_000;
const CLEAN_CACHE_MAX = 10_000;

/**
 * The bucket an address counts in: IPv4 (IPv4-mapped IPv6 too) per address, IPv6 per /64 (one
 * host usually holds a whole /64). Null when there is no address (the local operator).
 */
export function addressBucket(addr: string | null): string | null {
  if (addr === null || addr === "") return null;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr)?.[1];
  if (mapped !== undefined && isIPv4(mapped)) return `auth:${mapped}`;
  if (isIPv4(addr)) return `auth:${addr}`;
  if (!isIPv6(addr)) return `auth:${addr}`;
  const [head = "", tail = ""] = addr.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = addr.includes("::") ? [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right] : left;
  return `auth:${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

/**
 * Limits failed authentications (bearer tokens and share links together) per client address,
 * in fixed windows counted in the database (the same `rate_limits` table and atomic upsert as
 * the per-token limits), so every server on one PostgreSQL shares the count. While an address is
 * over its limit, everything it presents is refused, a valid token too: otherwise the limit
 * would not bound guessing. Failures are audited in aggregate: one `auth.failed` event when an
 * address first fails in a window and one when it reaches the limit, with the count; never the
 * presented credential or anything derived from it. Coffer's tokens carry no id part (256
 * random bits), so there is no per-token-id bucket.
 */
export class AuthGuard {
  readonly #store: Store;
  readonly #audit: AuditLog;
  readonly #limit: RateLimit | null;
  readonly #fx: Effects;
  /** Bucket → when it was last seen with no failure in its window (ms). */
  readonly #clean = new Map<string, number>();
  /** Client address → its bucket ({@link addressBucket} parses it; once per address is enough). */
  readonly #buckets = new Map<string, string | null>();
  #lastSweep = 0;

  constructor(deps: { store: Store; audit: AuditLog; limit: RateLimit | null; fx?: Effects }) {
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#limit = deps.limit;
    this.#fx = deps.fx ?? systemEffects;
  }

  /**
   * Runs `attempt` (an authentication) unless the caller's address is over its limit, and
   * counts it when it fails with UNAUTHENTICATED or SHARE_LINK_INVALID.
   * @throws CofferError RATE_LIMITED (`limit: "auth"`, `retryAfter`), or what `attempt` throws.
   */
  async guard<T>(ctx: RequestContext, credential: Credential, attempt: () => Promise<T>): Promise<T> {
    const limit = this.#limit;
    const bucket = this.#bucketOf(ctx.clientAddr);
    if (limit === null || bucket === null) return attempt();
    await this.#refuseIfLimited(limit, bucket);
    try {
      return await attempt();
    } catch (e) {
      if (isCofferError(e) && FAILURES.has(e.code)) await this.#failed(ctx, credential, limit, bucket);
      throw e;
    }
  }

  /**
   * Whether {@link guard} would run an attempt from this address without asking the database:
   * no limit, no address, or an address seen clean within {@link CLEAN_ADDRESS_CACHE_MS}. A
   * caller whose attempt cannot fail (a token verified moments ago) may then skip the guard.
   */
  admitsAtOnce(ctx: RequestContext): boolean {
    const bucket = this.#limit === null ? null : this.#bucketOf(ctx.clientAddr);
    return bucket === null || this.#isClean(bucket, this.#fx.now().getTime());
  }

  #bucketOf(addr: string | null): string | null {
    if (addr === null) return null;
    let bucket = this.#buckets.get(addr);
    if (bucket === undefined) {
      bucket = addressBucket(addr);
      if (this.#buckets.size >= CLEAN_CACHE_MAX) this.#buckets.clear();
      this.#buckets.set(addr, bucket);
    }
    return bucket;
  }

  #isClean(bucket: string, nowMs: number): boolean {
    const cleanAt = this.#clean.get(bucket);
    return cleanAt !== undefined && nowMs - cleanAt < CLEAN_ADDRESS_CACHE_MS && nowMs >= cleanAt;
  }

  async #refuseIfLimited(limit: RateLimit, bucket: string): Promise<void> {
    const nowMs = this.#fx.now().getTime();
    if (this.#isClean(bucket, nowMs)) return;
    const held = await this.#store.read(NO_OWNERS, (db) => requestRepo.peekRateLimit(db, bucket));
    const nowS = Math.floor(nowMs / 1000);
    const current = held !== null && held.windowStart + limit.windowSeconds > nowS ? held : null;
    if (current === null || current.count === 0) {
      if (this.#clean.size >= CLEAN_CACHE_MAX) this.#clean.clear();
      this.#clean.set(bucket, nowMs);
      return;
    }
    this.#clean.delete(bucket);
    if (current.count >= limit.count) throw limited(limit, current.windowStart + limit.windowSeconds - nowS);
  }

  async #failed(ctx: RequestContext, credential: Credential, limit: RateLimit, bucket: string): Promise<void> {
    this.#clean.delete(bucket);
    const nowS = this.#nowS();
    const windowStart = nowS - (nowS % limit.windowSeconds);
    const r = await this.#store.transaction(NO_OWNERS, async (tx) => {
      if (nowS - this.#lastSweep > 3600) {
        this.#lastSweep = nowS;
        await requestRepo.deleteRateLimitsBefore(tx, nowS - 86_400);
      }
      return requestRepo.hitRateLimit(tx, bucket, windowStart);
    });
    if (r.count === 1 || r.count === limit.count) {
      await this.#audit.appendNow(ANONYMOUS, ctx, {
        action: "auth.failed",
        owner: null,
        key: null,
        version: null,
        outcome: "denied",
        reason: null,
        details: {
          address: bucket.slice("auth:".length),
          credential,
          failures: r.count,
          limit: limit.count,
          windowSeconds: limit.windowSeconds,
          windowStart: new Date(r.windowStart * 1000).toISOString(),
          limited: r.count >= limit.count ? "yes" : "no",
        },
      });
    }
    if (r.count > limit.count) throw limited(limit, Math.max(1, r.windowStart + limit.windowSeconds - nowS));
  }

  #nowS(): number {
    return Math.floor(this.#fx.now().getTime() / 1000);
  }
}

/**
 * Whether whoever minted a share link (its `created_by`, e.g. `token:t_…`) may still act: a link
 * minted by a token stops working when that token is revoked or expires (or is gone); one minted
 * by the local operator stays valid.
 */
export async function isMinterActive(db: Executor, createdBy: string, now: Date): Promise<boolean> {
  if (!createdBy.startsWith("token:")) return createdBy.startsWith("local:");
  const row = await tokenRepo.findToken(db, createdBy.slice("token:".length));
  return row !== null && row.revoked_at === null && (row.expires_at === null || Date.parse(row.expires_at) > now.getTime());
}

function limited(limit: RateLimit, retryAfter: number): CofferError {
  return new CofferError(
    "RATE_LIMITED",
    `too many failed authentications from this address (${String(limit.count)} per ${String(limit.windowSeconds)}s); retry in ${String(retryAfter)}s`,
    { limit: "auth", retryAfter },
  );
}
