import { CofferError, isCofferError } from "../../errors/index.ts";
import { systemEffects, type Effects } from "../../crypto/index.ts";
import type { Owner } from "../../model/index.ts";
import type { Secret } from "../../secret/index.ts";
import type { Executor, OwnerFilter, OwnerScope, secretRepo, Store } from "../../store/index.ts";
import { ownerScope } from "../access/scopes.ts";
import { visibleOwners } from "../access/access.ts";
import type { Actor, Permission, RequestContext } from "../access/actor.ts";
import type { RateLimiter, ReauthHook } from "../access/guard.ts";
import type { AuthGuard } from "../access/auth-guard.ts";
import type { AuditInput, AuditLog, CountedLimit } from "../audit/audit-log.ts";
import type { KeyManager, ScopeKey } from "../scope-keys/key-manager.ts";
import type { Logger } from "../logger.ts";
import { AccessGate } from "../access/gate.ts";
import { openColumns } from "./sealing.ts";
import { SecretStateMac } from "./secret-state.ts";
import { parseReason, type SecretRef } from "./secret-inputs.ts";

export type SecretsDeps = ConstructorParameters<typeof SecretsContext>[0];

/**
 * What every secrets capability (CRUD, reveal and export, share links, idempotency, bulk import)
 * shares: the store, keys and audit log, and the gates and transaction shapes they all use, so
 * each capability module is its own small class over one context.
 */
export class SecretsContext {
  readonly store: Store;
  readonly keys: KeyManager;
  readonly audit: AuditLog;
  readonly log: Logger;
  readonly fx: Effects;
  readonly limiter: RateLimiter | null;
  readonly reauth: ReauthHook | null;
  readonly visibleOwners: (actor: Actor) => OwnerFilter;
  readonly authGuard: AuthGuard | null;
  readonly state: SecretStateMac;
  readonly gate: AccessGate;

  constructor(deps: {
    store: Store;
    keys: KeyManager;
    audit: AuditLog;
    logger: Logger;
    fx?: Effects;
    limiter?: RateLimiter | null;
    reauth?: ReauthHook | null;
    /**
     * Test seam, never passed by `createCore`: replaces {@link visibleOwners}, the one function
     * that scopes listings to the caller's owners. The mutation check in
     * `tenant-isolation.test.ts` disables it to prove the isolation tests fail without it.
     */
    visibleOwners?: (actor: Actor) => OwnerFilter;
    authGuard?: AuthGuard | null;
  }) {
    this.visibleOwners = deps.visibleOwners ?? visibleOwners;
    this.authGuard = deps.authGuard ?? null;
    this.limiter = deps.limiter ?? null;
    this.reauth = deps.reauth ?? null;
    this.store = deps.store;
    this.keys = deps.keys;
    this.audit = deps.audit;
    this.log = deps.logger;
    this.fx = deps.fx ?? systemEffects;
    this.state = new SecretStateMac(deps.keys);
    this.gate = new AccessGate(deps.audit);
  }

  /** Refuses (audited, through the access gate) an actor that lacks the permission on the owner. @throws CofferError SCOPE_DENIED. */
  allow(actor: Actor, ctx: RequestContext, permission: Permission, owner: Owner | null, denied: AuditInput): Promise<void> {
    return this.gate.require(actor, ctx, permission, owner, denied);
  }

  async limit(actor: Actor, ctx: RequestContext, kind: "reveal" | "write", denied: AuditInput): Promise<void> {
    if (this.limiter === null) return;
    try {
      await this.limiter.hit(actor, kind);
    } catch (e) {
      if (isCofferError(e) && e.code === "RATE_LIMITED")
        await this.audit.appendNow(actor, ctx, { ...denied, outcome: "denied", details: { rule: `${kind} rate limit` } });
      throw e;
    }
  }

  /**
   * Every gate of a reveal, each refusal audited: the `secrets:reveal` scope on the owner, a
   * reason, recent authentication (the re-auth hook), and the reveal rate limit.
   * @returns the validated reason.
   */
  async revealAllowed(actor: Actor, ctx: RequestContext, owner: Owner, rawReason: string, denied: AuditInput): Promise<string> {
    const reason = await this.revealGates(actor, ctx, owner, rawReason, denied);
    await this.limit(actor, ctx, "reveal", { ...denied, reason });
    return reason;
  }

  /**
   * The reveal's hit on the per-token reveal limit, to be counted in the transaction of the
   * reveal's own audit event (`audit.appendNow(…, limit)`): refused, `denied` (with the rule) is
   * audited instead. Null when no limit applies.
   */
  revealLimit(actor: Actor, denied: AuditInput): CountedLimit | null {
    const hit = this.limiter?.hitFor(actor, "reveal") ?? null;
    return hit === null ? null : { hit, denied: { ...denied, outcome: "denied", details: { rule: "reveal rate limit" } } };
  }

  /**
   * The gates of a reveal but its rate limit ({@link revealAllowed} without it), each refusal
   * audited: the caller counts the hit with {@link revealLimit}.
   * @returns the validated reason.
   */
  async revealGates(actor: Actor, ctx: RequestContext, owner: Owner, rawReason: string, denied: AuditInput): Promise<string> {
    await this.allow(actor, ctx, "secrets:reveal", owner, denied);
    let reason: string;
    try {
      reason = parseReason(rawReason);
    } catch (e) {
      await this.audit.appendNow(actor, ctx, { ...denied, outcome: "denied", details: { rule: "reason required" } });
      throw e;
    }
    if (actor.kind === "token" && this.reauth !== null) {
      const decision = await this.reauth(actor, ctx);
      if (!decision.ok) {
        await this.audit.appendNow(actor, ctx, { ...denied, reason, outcome: "denied", details: { rule: "re-authentication required" } });
        throw new CofferError("REAUTH_REQUIRED", `re-authentication required to reveal: ${decision.why}`);
      }
    }
    return reason;
  }

  /**
   * A change that seals with the owner's active scope key. Inside the transaction the key is
   * confirmed to still be active (and share-locked on PostgreSQL); a key erased or replaced
   * since it was cached — here or by another server — is dropped and the change runs once more
   * with a fresh one, so nothing is ever sealed under a key that no longer exists.
   */
  async sealing<T>(
    actor: Actor,
    ctx: RequestContext,
    owner: Owner,
    failure: AuditInput,
    fn: (tx: Executor, scope: ScopeKey) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const scope = await this.keys.activeScopeKey(owner);
      try {
        return await this.audited(actor, ctx, ownerScope(owner), failure, async (tx) => {
          if (!(await this.keys.confirmActive(tx, owner, scope.id))) throw new StaleScopeKey();
          return fn(tx, scope);
        });
      } catch (e) {
        if (!(e instanceof StaleScopeKey) || attempt >= 2)
          throw e instanceof StaleScopeKey
            ? new CofferError("CONFLICT", "the owner's scope key changed twice during this write; try again")
            : e;
      }
    }
  }

  /** Runs a change and its audit event in one transaction; a failure is audited on its own. */
  async audited<T>(
    actor: Actor,
    ctx: RequestContext,
    scope: OwnerScope,
    failure: AuditInput,
    fn: (tx: Executor) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.store.transaction(scope, fn);
    } catch (e) {
      if (e instanceof StaleScopeKey) throw e;
      if (isCofferError(e) && (e.code === "AUDIT_FAILED" || e.code === "INVALID_INPUT" || e.code === "NOT_FOUND")) throw e;
      const outcome = isCofferError(e) && e.code === "CONFLICT" ? "conflict" : "error";
      await this.audit.appendNow(actor, ctx, { ...failure, outcome, details: { code: isCofferError(e) ? e.code : "INTERNAL" } });
      throw e;
    }
  }

  async open(db: Executor, ref: SecretRef, v: secretRepo.SealedVersionRow): Promise<Secret> {
    const scopeKey = await this.keys.scopeKeyById(db, v.scope_key_id, ref.owner);
    return openColumns(scopeKey, v, { owner: ref.owner, name: ref.name, version: v.version });
  }
}

/** The cached scope key is no longer the owner's active key; the write is retried. */
class StaleScopeKey extends Error {
  override readonly name = "StaleScopeKey";
}
