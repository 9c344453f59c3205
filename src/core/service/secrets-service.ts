import { CofferError, isCofferError } from "../errors/index.ts";
import { systemEffects, type Effects } from "../crypto/index.ts";
import { ownerIdColumn, parseOwner, parseWith, type KeyName, type Owner } from "../model/index.ts";
import type { Secret } from "../secret/index.ts";
import { NO_OWNERS, secretRepo, type Executor, type OwnerScope, type Store } from "../store/index.ts";
import { actorScope, ownerScope } from "./scopes.ts";
import { actorLabel, LOCAL_CONTEXT, type Actor, type RequestContext } from "./actor.ts";
import type { AuditInput, AuditLog, AuditVerification } from "./audit-log.ts";
import type { KeyManager, ScopeKey } from "./key-manager.ts";
import type { Logger } from "./logger.ts";
import { openColumns, sealToColumns } from "./sealing.ts";
import { cols, findLive, notFound, ownerOf } from "./secret-lookup.ts";
import {
  ExpectedVersion,
  Limit,
  Reason,
  Version,
  checkValueSize,
  parseMeta,
  parsePrefix,
  parseRef,
  type RefInput,
  type SecretRef,
} from "./secret-inputs.ts";
import { toSecretView, toVersionView, type SecretView, type VersionView } from "./secret-views.ts";

export type SetInput = RefInput & { readonly value: Secret; readonly meta?: unknown; readonly expectedVersion?: number };
export type RevealInput = RefInput & { readonly reason: string; readonly version?: number };
export type ListInput = {
  readonly owner?: string;
  readonly prefix?: string;
  readonly includeDeleted?: boolean;
  readonly cursor?: number;
  readonly limit?: number;
};
export type RevealedSecret = { readonly view: SecretView; readonly value: Secret };

/**
 * The product's behaviour for secrets, shared by every adapter (CLI local mode, HTTP server),
 * so the two can never disagree. Validates raw input with zod at this door, writes every
 * change and its audit event in one transaction, and returns masked views unless revealing.
 */
export class SecretsService {
  readonly #store: Store;
  readonly #keys: KeyManager;
  readonly #audit: AuditLog;
  readonly #log: Logger;
  readonly #fx: Effects;

  constructor(deps: { store: Store; keys: KeyManager; audit: AuditLog; logger: Logger; fx?: Effects }) {
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#audit = deps.audit;
    this.#log = deps.logger;
    this.#fx = deps.fx ?? systemEffects;
  }

  /**
   * Writes a new version (version numbers only grow, across deletes too).
   * @throws CofferError INVALID_INPUT, CONFLICT when `expectedVersion` is not the current one.
   */
  async set(actor: Actor, ctx: RequestContext, input: SetInput): Promise<SecretView> {
    const ref = parseRef(input);
    checkValueSize(input.value);
    const meta = input.meta === undefined ? null : parseMeta(input.meta);
    const expected = input.expectedVersion === undefined ? null : parseWith(ExpectedVersion, input.expectedVersion, "expectedVersion");
    const audit = (version: number | null, outcome: AuditInput["outcome"]): AuditInput => ({
      action: "secret.set",
      owner: ref.owner,
      key: ref.name,
      version,
      outcome,
      reason: null,
    });
    return this.#sealing(actor, ctx, ref.owner, audit(null, "error"), async (tx, scope) => {
      const now = this.#fx.now().toISOString();
      await secretRepo.insertSecretIfAbsent(tx, {
        owner_type: ref.owner.kind,
        owner_id: ownerIdColumn(ref.owner),
        key_name: ref.name,
        current_version: 0,
        meta: "{}",
        created_at: now,
        updated_at: now,
        last_rotated_at: null,
        deleted_at: null,
      });
      const row = await secretRepo.lockSecret(tx, cols(ref.owner), ref.name);
      if (row === null) throw new CofferError("INTERNAL", "secret row vanished inside its own transaction");
      const live = row.deleted_at === null ? row.current_version : 0;
      if (expected !== null && expected !== live) {
        throw new CofferError("CONFLICT", `${ref.name} is at version ${String(live)}, not the expected ${String(expected)}`, {
          key: ref.name,
          current: live,
          expected,
        });
      }
      const version = row.current_version + 1;
      const sealed = sealToColumns(scope.key, input.value, { owner: ref.owner, name: ref.name, version, scopeKeyId: scope.id }, this.#fx);
      const metaJson = meta === null ? row.meta : JSON.stringify(meta);
      await secretRepo.updateSecret(tx, row.id, { current_version: version, meta: metaJson, updated_at: now, deleted_at: null });
      await secretRepo.insertVersion(tx, {
        secret_id: row.id,
        version,
        ...sealed,
        hmac: null,
        created_at: now,
        created_by: actorLabel(actor),
        destroyed_at: null,
      });
      await this.#audit.append(tx, actor, ctx, audit(version, "success"));
      return toSecretView(ref.owner, { ...row, current_version: version, meta: metaJson, updated_at: now, deleted_at: null });
    });
  }

  /** The masked view of the current (or a given) version. @throws CofferError NOT_FOUND. */
  async get(_actor: Actor, input: RefInput & { readonly version?: number }): Promise<SecretView> {
    const ref = parseRef(input);
    const version = input.version === undefined ? null : parseWith(Version, input.version, "version");
    return this.#store.read(ownerScope(ref.owner), async (db) => {
      if (version !== null) {
        const found = await findLive(db, ref, version);
        return toSecretView(ref.owner, found.row, found.version.version);
      }
      // The masked view of the current version needs only the secret's row: one query.
      const row = await secretRepo.findSecret(db, cols(ref.owner), ref.name);
      if (row === null || row.deleted_at !== null) throw notFound(ref);
      return toSecretView(ref.owner, row);
    });
  }

  /**
   * Returns the plaintext, after its audit event (with the reason) has committed: if the event
   * cannot be written, nothing is revealed.
   * @throws CofferError INVALID_INPUT (no reason), NOT_FOUND, DECRYPT_FAILED, AUDIT_FAILED.
   */
  async reveal(actor: Actor, ctx: RequestContext, input: RevealInput): Promise<RevealedSecret> {
    const ref = parseRef(input);
    const base = {
      action: "secret.reveal",
      owner: ref.owner,
      key: ref.name,
      version: input.version ?? null,
      reason: input.reason.slice(0, 500) || null,
    } as const;
    let reason: string;
    try {
      reason = parseWith(Reason, input.reason, "reason");
    } catch (e) {
      await this.#audit.appendNow(actor, ctx, { ...base, outcome: "denied", details: { rule: "reason required" } });
      throw e;
    }
    const version = input.version === undefined ? null : parseWith(Version, input.version, "version");
    const found = await this.#store.read(ownerScope(ref.owner), (db) => findLive(db, ref, version));
    let value: Secret;
    try {
      value = await this.#store.read(ownerScope(ref.owner), (db) => this.#open(db, ref, found.version));
    } catch (e) {
      await this.#audit.appendNow(actor, ctx, {
        ...base,
        version: found.version.version,
        reason,
        outcome: "error",
        details: { code: isCofferError(e) ? e.code : "INTERNAL" },
      });
      throw e;
    }
    try {
      await this.#audit.appendNow(actor, ctx, { ...base, version: found.version.version, reason, outcome: "success" });
    } catch (e) {
      value.wipe();
      throw e;
    }
    this.#log.info({ action: "secret.reveal", key: ref.name, version: found.version.version }, "secret revealed");
    return { view: toSecretView(ref.owner, found.row, found.version.version), value };
  }

  /**
   * Reveals the current value of every live secret of an owner (under a prefix), for `run`.
   * One audit event per secret, all committed before any plaintext is returned.
   */
  async revealAll(
    actor: Actor,
    ctx: RequestContext,
    input: { readonly owner: string; readonly prefix?: string; readonly reason: string },
  ): Promise<ReadonlyMap<string, Secret>> {
    const owner = parseOwner(input.owner);
    const prefix = parsePrefix(input.prefix);
    const reason = parseWith(Reason, input.reason, "reason");
    const out = new Map<string, Secret>();
    try {
      const rows = await this.#store.read(ownerScope(owner), async (db) => {
        const found = await secretRepo.listCurrentVersions(db, cols(owner), prefix);
        for (const r of found) out.set(r.key_name, await this.#open(db, { owner, name: r.key_name as KeyName }, r));
        return found;
      });
      const events = rows.map(
        (r) => ({ action: "secret.reveal", owner, key: r.key_name, version: r.version, outcome: "success", reason }) as const,
      );
      await this.#store.transaction(NO_OWNERS, (tx) => this.#audit.appendAll(tx, actor, ctx, events));
    } catch (e) {
      for (const v of out.values()) v.wipe();
      throw e;
    }
    return out;
  }

  /** Soft delete: hidden from list/get, versions kept for history. @throws CofferError NOT_FOUND, CONFLICT. */
  async unset(actor: Actor, ctx: RequestContext, input: RefInput & { readonly expectedVersion?: number }): Promise<SecretView> {
    const ref = parseRef(input);
    const expected = input.expectedVersion === undefined ? null : parseWith(ExpectedVersion, input.expectedVersion, "expectedVersion");
    const base = { action: "secret.unset", owner: ref.owner, key: ref.name, version: null, reason: null } as const;
    return this.#audited(actor, ctx, ownerScope(ref.owner), { ...base, outcome: "error" }, async (tx) => {
      const { row } = await findLive(tx, ref, null);
      if (expected !== null && expected !== row.current_version) {
        throw new CofferError(
          "CONFLICT",
          `${ref.name} is at version ${String(row.current_version)}, not the expected ${String(expected)}`,
          { key: ref.name, current: row.current_version, expected },
        );
      }
      const now = this.#fx.now().toISOString();
      await secretRepo.updateSecret(tx, row.id, { deleted_at: now, updated_at: now });
      await this.#audit.append(tx, actor, ctx, { ...base, version: row.current_version, outcome: "success" });
      return toSecretView(ref.owner, { ...row, deleted_at: now, updated_at: now });
    });
  }

  async list(actor: Actor, input: ListInput): Promise<{ readonly items: readonly SecretView[]; readonly nextCursor: number | null }> {
    const owner = input.owner === undefined ? null : parseOwner(input.owner);
    const limit = parseWith(Limit, input.limit ?? 1000, "limit");
    const filter = {
      owner: owner === null ? null : cols(owner),
      prefix: parsePrefix(input.prefix),
      includeDeleted: input.includeDeleted ?? false,
      afterId: input.cursor ?? 0,
      limit,
    };
    const scope = owner === null ? actorScope(actor) : ownerScope(owner);
    const rows = await this.#store.read(scope, (db) => secretRepo.listSecrets(db, filter));
    if (scope.kind === "all") {
      // The cross-owner (administrative) path is audited: who listed everything, and why.
      await this.#audit.appendNow(actor, LOCAL_CONTEXT, {
        action: "secret.list",
        owner: null,
        key: null,
        version: null,
        outcome: "success",
        reason: scope.why,
        details: { scope: "all", count: rows.length },
      });
    }
    const items = rows.map((r) => toSecretView(owner ?? ownerOf(r), r));
    return { items, nextCursor: rows.length === limit ? (rows.at(-1)?.id ?? null) : null };
  }

  /** Every version, deleted secrets included. @throws CofferError NOT_FOUND. */
  async history(_actor: Actor, input: RefInput): Promise<readonly VersionView[]> {
    const ref = parseRef(input);
    return this.#store.read(ownerScope(ref.owner), async (db) => {
      const row = await secretRepo.findSecret(db, cols(ref.owner), ref.name);
      if (row === null) throw notFound(ref);
      return (await secretRepo.listVersions(db, row.id)).map((v) => toVersionView(v, row.current_version));
    });
  }

  /** New DEK for every stored version, values re-encrypted under the owner's active scope key. */
  async rotate(actor: Actor, ctx: RequestContext, input: RefInput): Promise<SecretView> {
    const ref = parseRef(input);
    const base = { action: "secret.rotate", owner: ref.owner, key: ref.name, reason: null } as const;
    return this.#sealing(actor, ctx, ref.owner, { ...base, version: null, outcome: "error" }, async (tx, scope) => {
      const { row } = await findLive(tx, ref, null);
      const versions = (await secretRepo.listVersions(tx, row.id)).filter((v) => v.destroyed_at === null);
      for (const v of versions) {
        const value = await this.#open(tx, ref, v);
        try {
          const sealed = sealToColumns(
            scope.key,
            value,
            { owner: ref.owner, name: ref.name, version: v.version, scopeKeyId: scope.id },
            this.#fx,
          );
          await secretRepo.updateVersionCipher(tx, { secretId: row.id, version: v.version }, sealed);
        } finally {
          value.wipe();
        }
      }
      const now = this.#fx.now().toISOString();
      await secretRepo.updateSecret(tx, row.id, { last_rotated_at: now, updated_at: now });
      await this.#audit.append(tx, actor, ctx, {
        ...base,
        version: row.current_version,
        outcome: "success",
        details: { versions: versions.length },
      });
      return toSecretView(ref.owner, { ...row, last_rotated_at: now, updated_at: now });
    });
  }

  /** Walks the audit chain; see {@link AuditLog.verify}. */
  verifyAudit(): Promise<AuditVerification> {
    return this.#audit.verify();
  }

  /**
   * A change that seals with the owner's active scope key. Inside the transaction the key is
   * confirmed to still be active (and share-locked on PostgreSQL); a key erased or replaced
   * since it was cached — here or by another server — is dropped and the change runs once more
   * with a fresh one, so nothing is ever sealed under a key that no longer exists.
   */
  async #sealing<T>(
    actor: Actor,
    ctx: RequestContext,
    owner: Owner,
    failure: AuditInput,
    fn: (tx: Executor, scope: ScopeKey) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const scope = await this.#keys.activeScopeKey(owner);
      try {
        return await this.#audited(actor, ctx, ownerScope(owner), failure, async (tx) => {
          if (!(await this.#keys.confirmActive(tx, owner, scope.id))) throw new StaleScopeKey();
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
  async #audited<T>(
    actor: Actor,
    ctx: RequestContext,
    scope: OwnerScope,
    failure: AuditInput,
    fn: (tx: Executor) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.#store.transaction(scope, fn);
    } catch (e) {
      if (e instanceof StaleScopeKey) throw e;
      if (isCofferError(e) && (e.code === "AUDIT_FAILED" || e.code === "INVALID_INPUT" || e.code === "NOT_FOUND")) throw e;
      const outcome = isCofferError(e) && e.code === "CONFLICT" ? "conflict" : "error";
      await this.#audit.appendNow(actor, ctx, { ...failure, outcome, details: { code: isCofferError(e) ? e.code : "INTERNAL" } });
      throw e;
    }
  }

  async #open(db: Executor, ref: SecretRef, v: secretRepo.VersionRow): Promise<Secret> {
    const scopeKey = await this.#keys.scopeKeyById(db, v.scope_key_id, ref.owner);
    return openColumns(scopeKey, v, { owner: ref.owner, name: ref.name, version: v.version });
  }
}

/** The cached scope key is no longer the owner's active key; the write is retried. */
class StaleScopeKey extends Error {
  override readonly name = "StaleScopeKey";
}
