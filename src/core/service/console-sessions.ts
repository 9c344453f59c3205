import { constantTimeEqual, sha256Hex, systemEffects, type Effects } from "../crypto/index.ts";
import { CofferError } from "../errors/index.ts";
import { NO_OWNERS, sessionRepo, type Store } from "../store/index.ts";
import type { RequestContext, TokenActor } from "./actor.ts";
import type { AuditInput, AuditLog } from "./audit-log.ts";
import type { TokenService } from "./tokens.ts";

export type ConsoleSessionPolicy = { readonly idleMs: number; readonly lifetimeMs: number };

/** A session the console holds: its id goes into the HttpOnly cookie and nowhere else. */
export type StartedSession = {
  readonly sessionId: string;
  readonly csrf: string;
  readonly actor: TokenActor;
  readonly expiresAt: string;
};

export type ResolvedSession = { readonly actor: TokenActor; readonly expiresAt: string; readonly authenticatedAt: string };

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
/** At most one `last_seen_at` write per this long per session. */
const TOUCH_EVERY_MS = 15_000;
const CSRF_PURPOSE = "coffer-console-csrf-v1:";

function expired(): CofferError {
  return new CofferError("UNAUTHENTICATED", "the console session has ended or expired; sign in again");
}

/**
 * Admin-console sessions (docs/console.md): a token, presented once, is exchanged for a random
 * session id kept by the browser in an HttpOnly cookie; the database holds only its SHA-256,
 * the token's id, and the times (idle timeout, absolute lifetime, last authentication). Every
 * request re-reads the token, so revoking it ends its sessions. The CSRF token is a one-way
 * derivation of the session id (a different one from the stored hash), so it is bound to one
 * session, needs no storage, and does not give away the cookie.
 */
export class ConsoleSessions {
  readonly #store: Store;
  readonly #tokens: TokenService;
  readonly #audit: AuditLog;
  readonly #policy: ConsoleSessionPolicy;
  readonly #fx: Effects;
  #lastSweep = 0;

  constructor(deps: { store: Store; tokens: TokenService; audit: AuditLog; policy: ConsoleSessionPolicy; fx?: Effects }) {
    this.#store = deps.store;
    this.#tokens = deps.tokens;
    this.#audit = deps.audit;
    this.#policy = deps.policy;
    this.#fx = deps.fx ?? systemEffects;
  }

  get policy(): ConsoleSessionPolicy {
    return this.#policy;
  }

  /**
   * Signs in: authenticates `token` (counted by the failed-authentication limit) and starts a session.
   * @throws CofferError UNAUTHENTICATED, RATE_LIMITED.
   */
  async start(token: string, ctx: RequestContext): Promise<StartedSession> {
    const tokenActor = await this.#tokens.authenticate(token, ctx);
    const raw = this.#fx.random(32);
    const sessionId = Buffer.from(raw).toString("base64url");
    raw.fill(0);
    const now = this.#fx.now();
    const at = now.toISOString();
    const expiresAt = new Date(now.getTime() + this.#policy.lifetimeMs).toISOString();
    await this.#store.transaction(NO_OWNERS, async (tx) => {
      if (now.getTime() - this.#lastSweep > 3_600_000) {
        this.#lastSweep = now.getTime();
        await sessionRepo.deleteExpiredSessions(tx, at, new Date(now.getTime() - this.#policy.idleMs).toISOString());
      }
      await sessionRepo.insertSession(tx, {
        id_hash: sha256Hex(sessionId),
        token_id: tokenActor.tokenId,
        created_at: at,
        last_seen_at: at,
        authenticated_at: at,
        expires_at: expiresAt,
      });
    });
    const actor = { ...tokenActor, authenticatedAt: at };
    await this.#audit.appendNow(actor, ctx, this.#event("console.signin", { expires: expiresAt }));
    return { sessionId, csrf: this.csrfFor(sessionId), actor, expiresAt };
  }

  /**
   * The actor of a live session, its token re-read (revoked or expired: the session ends).
   * @throws CofferError UNAUTHENTICATED (unknown, ended, idle too long, past its lifetime).
   */
  async resolve(sessionId: string): Promise<ResolvedSession> {
    if (!SESSION_ID.test(sessionId)) throw expired();
    const hash = sha256Hex(sessionId);
    const row = await this.#store.read(NO_OWNERS, (db) => sessionRepo.findSession(db, hash));
    if (row === null) throw expired();
    const now = this.#fx.now().getTime();
    if (Date.parse(row.expires_at) <= now || now - Date.parse(row.last_seen_at) > this.#policy.idleMs) {
      await this.#store.transaction(NO_OWNERS, (tx) => sessionRepo.deleteSession(tx, hash));
      throw expired();
    }
    let actor: TokenActor;
    try {
      actor = await this.#tokens.actorForSession(row.token_id, row.authenticated_at);
    } catch (e) {
      await this.#store.transaction(NO_OWNERS, (tx) => sessionRepo.deleteSession(tx, hash));
      throw e;
    }
    if (now - Date.parse(row.last_seen_at) > TOUCH_EVERY_MS) {
      await this.#store.transaction(NO_OWNERS, (tx) => sessionRepo.touchSession(tx, hash, new Date(now).toISOString()));
    }
    return { actor, expiresAt: row.expires_at, authenticatedAt: row.authenticated_at };
  }

  /**
   * Re-authentication for reveals: the same token presented again resets the session's
   * authentication time. Another token is refused (sign out and in instead).
   * @throws CofferError UNAUTHENTICATED, RATE_LIMITED.
   */
  async reauthenticate(sessionId: string, token: string, ctx: RequestContext): Promise<ResolvedSession> {
    const current = await this.resolve(sessionId);
    const presented = await this.#tokens.authenticate(token, ctx);
    if (presented.tokenId !== current.actor.tokenId)
      throw new CofferError("UNAUTHENTICATED", "authentication failed: that is not the token this session was started with");
    const at = this.#fx.now().toISOString();
    await this.#store.transaction(NO_OWNERS, (tx) => sessionRepo.reauthenticateSession(tx, sha256Hex(sessionId), at));
    const actor = { ...current.actor, authenticatedAt: at };
    await this.#audit.appendNow(actor, ctx, this.#event("console.reauth", {}));
    return { actor, expiresAt: current.expiresAt, authenticatedAt: at };
  }

  /** Signs out: the session row is deleted, so the cookie is worthless from now on, on every server. */
  async end(sessionId: string, ctx: RequestContext): Promise<void> {
    if (!SESSION_ID.test(sessionId)) return;
    let actor: TokenActor | null = null;
    try {
      actor = (await this.resolve(sessionId)).actor;
    } catch {
      // already ended or expired: nothing to audit
    }
    const deleted = await this.#store.transaction(NO_OWNERS, (tx) => sessionRepo.deleteSession(tx, sha256Hex(sessionId)));
    if (deleted && actor !== null) await this.#audit.appendNow(actor, ctx, this.#event("console.signout", {}));
  }

  /** The session's CSRF token: SHA-256 of a fixed purpose and the session id (256 random bits only the cookie holds). */
  csrfFor(sessionId: string): string {
    return sha256Hex(CSRF_PURPOSE + sessionId);
  }

  csrfMatches(sessionId: string, given: string): boolean {
    const want = new TextEncoder().encode(this.csrfFor(sessionId));
    const got = new TextEncoder().encode(given);
    return got.length === want.length && constantTimeEqual(got, want);
  }

  #event(action: string, details: Readonly<Record<string, string>>): AuditInput {
    return { action, owner: null, key: null, version: null, outcome: "success", reason: null, details };
  }
}
