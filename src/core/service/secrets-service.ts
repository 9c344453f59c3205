import * as z from "zod/mini";
import { CofferError, invalidInput, isCofferError } from "../errors/index.ts";
import { encodeFields, hmacSha256, sha256Hex, systemEffects, toHex, type Effects } from "../crypto/index.ts";
import { formatOwner, ownerFromColumns, ownerIdColumn, parseOwner, parseWith, type KeyName, type Owner } from "../model/index.ts";
import { Secret } from "../secret/index.ts";
import { parseTtl } from "./tokens.ts";
import {
  NO_OWNERS,
  requestRepo,
  secretRepo,
  tokenRepo,
  type Executor,
  type OwnerFilter,
  type OwnerScope,
  type Store,
} from "../store/index.ts";
import { ownerScope } from "./scopes.ts";
import { actorScope, deniedError, denial, keepVisible, visibleOwners } from "./access.ts";
import { actorLabel, LOCAL_CONTEXT, type Actor, type Permission, type RequestContext } from "./actor.ts";
import type { RateLimiter, ReauthHook } from "./guard.ts";
import { isMinterActive, type AuthGuard } from "./auth-guard.ts";
import type { AuditAnchor, AuditInput, AuditLog, AuditVerification } from "./audit-log.ts";
import type { KeyManager, ScopeKey } from "./key-manager.ts";
import type { Logger } from "./logger.ts";
import { openColumns, sealToColumns } from "./sealing.ts";
import { appendVersion, lockOrCreate } from "./secret-write.ts";
import { IMPORT_MODES, liveSecrets, parseEntries, type ImportInput, type ImportSummary, type ImportedKey } from "./secret-bulk.ts";
import { cols, findLive, notFound, ownerOf } from "./secret-lookup.ts";
import { SecretStateMac } from "./secret-state.ts";
import {
  Cursor,
  auditableReason,
  ExpectedVersion,
  Limit,
  OwnerTypeFilter,
  Reason,
  Version,
  checkValueSize,
  parseMeta,
  parsePrefix,
  parseRef,
  type RefInput,
  type SecretRef,
} from "./secret-inputs.ts";
import { storedMeta, toSecretView, toVersionView, type SecretView, type VersionView } from "./secret-views.ts";

export type SetInput = RefInput & { readonly value: Secret; readonly meta?: unknown; readonly expectedVersion?: number };
export type RevealInput = RefInput & { readonly reason: string; readonly version?: number };
export type ListInput = {
  readonly owner?: string;
  /** Only owners of this type (`user`, `project`, `system`). */
  readonly ownerType?: string;
  readonly prefix?: string;
  readonly includeDeleted?: boolean;
  readonly cursor?: number;
  readonly limit?: number;
};
export type RevealedSecret = { readonly view: SecretView; readonly value: Secret };
/** One secret of an export: its current value, version and metadata. */
export type ExportedSecret = {
  readonly key: string;
  readonly version: number;
  readonly meta: Readonly<Record<string, string>>;
  readonly value: Secret;
};
export type SharedLink = { readonly id: string; readonly token: Secret; readonly expiresAt: string; readonly view: SecretView };
const MAX_SHARE_TTL_MS = 7 * 86_400_000;

/** An `Idempotency-Key` on a write: `scope` is whose keys these are (a token id). */
export type Idempotency = { readonly scope: string; readonly key: string };

/** The internal key that digests requests for idempotency records (keyed: a stored digest reveals nothing of a value). */
export const REQUEST_DIGEST_PURPOSE = "request-digest";
export type IdempotentResult = { readonly view: SecretView; readonly replayed: boolean };

/** How long an idempotency record is kept (replays after that write again). */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
const IdempotencyKey = z.string().check(z.regex(/^[\x21-\x7e]{1,255}$/, "must be 1-255 printable ASCII characters without spaces"));

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
  readonly #limiter: RateLimiter | null;
  readonly #reauth: ReauthHook | null;
  readonly #visibleOwners: (actor: Actor) => OwnerFilter;
  readonly #authGuard: AuthGuard | null;
  readonly #state: SecretStateMac;

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
    this.#visibleOwners = deps.visibleOwners ?? visibleOwners;
    this.#authGuard = deps.authGuard ?? null;
    this.#limiter = deps.limiter ?? null;
    this.#reauth = deps.reauth ?? null;
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#audit = deps.audit;
    this.#log = deps.logger;
    this.#fx = deps.fx ?? systemEffects;
    this.#state = new SecretStateMac(deps.keys);
  }

  /**
   * Writes a new version (version numbers only grow, across deletes too).
   * @throws CofferError INVALID_INPUT, CONFLICT when `expectedVersion` is not the current one.
   */
  async set(actor: Actor, ctx: RequestContext, input: SetInput): Promise<SecretView> {
    return (await this.#set(actor, ctx, input, null)).view;
  }

  /**
   * `set` under an idempotency key: the same key and request replay the first response without
   * a second write; the same key with another request is refused. The record is written in the
   * write's own transaction, so of two concurrent duplicates exactly one writes.
   * @throws CofferError IDEMPOTENCY_MISMATCH, and whatever `set` throws.
   */
  async setIdempotent(
    actor: Actor,
    ctx: RequestContext,
    input: SetInput,
    idem: Idempotency,
    /** What the request asked for when its value is made here (a generated secret): digested instead of the value. */
    request?: readonly (string | number)[],
  ): Promise<IdempotentResult> {
    const key = parseWith(IdempotencyKey, idem.key, "Idempotency-Key");
    const digest = await this.#requestDigest(input, request);
    const prior = await this.#replay(idem.scope, key, digest);
    if (prior !== null) return prior;
    try {
      return await this.#set(actor, ctx, input, { scope: idem.scope, key, digest });
    } catch (e) {
      const raced = await this.#replay(idem.scope, key, digest);
      if (raced !== null) return raced;
      throw e;
    }
  }

  /** A keyed digest of everything a write carries, value included. */
  async #requestDigest(input: SetInput, request: readonly (string | number)[] | undefined): Promise<string> {
    const k = await this.#store.read(NO_OWNERS, (db) => this.#keys.internalKey(db, REQUEST_DIGEST_PURPOSE));
    if (request !== undefined) return toHex(hmacSha256(k.key, encodeFields(["request", input.owner, input.key, ...request])));
    const head = encodeFields([
      "set",
      input.owner,
      input.key,
      input.meta === undefined ? "-" : JSON.stringify(input.meta),
      input.expectedVersion ?? "-",
    ]);
    const value = input.value.reveal();
    const all = new Uint8Array(head.byteLength + value.byteLength);
    all.set(head);
    all.set(value, head.byteLength);
    value.fill(0);
    const mac = toHex(hmacSha256(k.key, all));
    all.fill(0);
    return mac;
  }

  async #replay(scope: string, key: string, digest: string): Promise<IdempotentResult | null> {
    const row = await this.#store.read(NO_OWNERS, (db) => requestRepo.findIdempotencyKey(db, scope, key));
    if (row === null) return null;
    if (Date.parse(row.created_at) < this.#fx.now().getTime() - IDEMPOTENCY_TTL_MS) return null;
    if (row.request_hash !== digest) {
      throw new CofferError("IDEMPOTENCY_MISMATCH", "Idempotency-Key: was already used with a different request", {
        field: "Idempotency-Key",
      });
    }
    return { view: JSON.parse(row.response) as SecretView, replayed: true };
  }

  async #set(
    actor: Actor,
    ctx: RequestContext,
    input: SetInput,
    idem: { readonly scope: string; readonly key: string; readonly digest: string } | null,
  ): Promise<IdempotentResult> {
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
    await this.#allow(actor, ctx, "secrets:write", ref.owner, audit(null, "denied"));
    await this.#limit(actor, ctx, "write", audit(null, "denied"));
    return this.#sealing(actor, ctx, ref.owner, audit(null, "error"), async (tx, scope) => {
      const now = this.#fx.now().toISOString();
      const row = await lockOrCreate(tx, ref.owner, ref.name, now);
      const live = row.deleted_at === null ? row.current_version : 0;
      if (expected !== null && expected !== live) {
        throw new CofferError("CONFLICT", `${ref.name} is at version ${String(live)}, not the expected ${String(expected)}`, {
          key: ref.name,
          current: live,
          expected,
        });
      }
      const by = actorLabel(actor);
      const written = await appendVersion(tx, row, {
        owner: ref.owner,
        name: ref.name,
        value: input.value,
        meta,
        scope,
        by,
        now,
        fx: this.#fx,
        state: this.#state,
      });
      const version = written.current_version;
      await this.#audit.append(tx, actor, ctx, audit(version, "success"));
      const view = toSecretView(ref.owner, written);
      if (idem !== null) {
        await requestRepo.insertIdempotencyKey(tx, {
          token_id: idem.scope,
          idem_key: idem.key,
          request_hash: idem.digest,
          status: 200,
          response: JSON.stringify(view),
          created_at: now,
        });
      }
      return { view, replayed: false };
    });
  }

  /** The masked view of the current (or a given) version. @throws CofferError NOT_FOUND. */
  async get(actor: Actor, input: RefInput & { readonly version?: number }, ctx: RequestContext = LOCAL_CONTEXT): Promise<SecretView> {
    const ref = parseRef(input);
    await this.#allow(actor, ctx, "secrets:read", ref.owner, {
      action: "secret.get",
      owner: ref.owner,
      key: ref.name,
      version: null,
      reason: null,
      outcome: "denied",
    });
    const version = input.version === undefined ? null : parseWith(Version, input.version, "version");
    return this.#store.read(ownerScope(ref.owner), async (db) => {
      if (version !== null) {
        const found = await findLive(db, ref, version, this.#state);
        return toSecretView(ref.owner, found.row, found.version.version);
      }
      // The masked view of the current version needs only the secret's row: one query.
      const row = await secretRepo.findSecret(db, cols(ref.owner), ref.name);
      if (row === null) throw notFound(ref);
      await this.#state.check(db, row);
      if (row.deleted_at !== null) throw notFound(ref);
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
      reason: auditableReason(input.reason),
    } as const;
    const reason = await this.#revealAllowed(actor, ctx, ref.owner, input.reason, { ...base, outcome: "denied" });
    const version = input.version === undefined ? null : parseWith(Version, input.version, "version");
    const found = await this.#store.read(ownerScope(ref.owner), (db) => findLive(db, ref, version, this.#state));
    // Before decrypting and auditing: a corrupt row (STORE_CORRUPT) reveals nothing.
    const view = toSecretView(ref.owner, found.row, found.version.version);
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
    return { view, value };
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
    const all = await this.#revealCurrent(actor, ctx, input, null);
    return new Map(all.map((e) => [e.key, e.value]));
  }

  /**
   * Every live secret of an owner (under a prefix) with its value, version and metadata, for an
   * export bundle: the gates of a reveal (scope, reason, re-auth, rate limit — counted once),
   * then one `secret.reveal` event per secret (`details.via: "export"`), all committed before
   * any plaintext is returned. The caller wipes the values.
   * @throws CofferError SCOPE_DENIED, INVALID_INPUT, REAUTH_REQUIRED, RATE_LIMITED, DECRYPT_FAILED, AUDIT_FAILED.
   */
  async exportValues(
    actor: Actor,
    ctx: RequestContext,
    input: { readonly owner: string; readonly prefix?: string; readonly reason: string },
  ): Promise<readonly ExportedSecret[]> {
    return this.#revealCurrent(actor, ctx, input, "export");
  }

  /**
   * Named secrets, of one or several owners, revealed for one purpose (a rendered template):
   * the scope is checked on every owner before anything is read (each refusal audited), the
   * reason, re-authentication and rate limit once; a missing secret is null; then one
   * `secret.reveal` event per secret (`details.via`), all committed before any plaintext is
   * returned. The caller wipes the values.
   * @throws CofferError SCOPE_DENIED, INVALID_INPUT, REAUTH_REQUIRED, RATE_LIMITED, DECRYPT_FAILED, AUDIT_FAILED.
   */
  async revealMany(
    actor: Actor,
    ctx: RequestContext,
    input: {
      readonly refs: readonly (RefInput & { readonly version?: number })[];
      readonly reason: string;
      readonly via: string;
      /** The error for a missing secret (by index), thrown before anything is revealed; null: the result is null. */
      readonly missing: (index: number) => CofferError | null;
    },
  ): Promise<(RevealedSecret | null)[]> {
    const refs = input.refs.map((r) => ({
      ref: parseRef(r),
      version: r.version === undefined ? null : parseWith(Version, r.version, "version"),
    }));
    const denied = (owner: Owner): AuditInput => ({
      action: "secret.reveal",
      owner,
      key: null,
      version: null,
      reason: input.reason.slice(0, 500) || null,
      outcome: "denied",
      details: { via: input.via },
    });
    const owners = new Map(refs.map((r) => [formatOwner(r.ref.owner), r.ref.owner]));
    for (const owner of owners.values()) await this.#allow(actor, ctx, "secrets:reveal", owner, denied(owner));
    const first = refs[0];
    if (first === undefined) return [];
    const reason = await this.#revealAllowed(actor, ctx, first.ref.owner, input.reason, denied(first.ref.owner));
    // Every secret is found before any is opened, so a missing one fails the whole call first.
    const found = await Promise.all(
      refs.map(({ ref, version }) =>
        this.#store.read(ownerScope(ref.owner), async (db) => {
          try {
            return await findLive(db, ref, version, this.#state);
          } catch (e) {
            if (isCofferError(e) && e.code === "NOT_FOUND") return null;
            throw e;
          }
        }),
      ),
    );
    found.forEach((f, i) => {
      const e = f === null ? input.missing(i) : null;
      if (e !== null) throw e;
    });
    const out: (RevealedSecret | null)[] = [];
    try {
      for (const [i, f] of found.entries()) {
        const r = refs[i];
        if (f === null || r === undefined) {
          out.push(null);
          continue;
        }
        const value = await this.#store.read(ownerScope(r.ref.owner), (db) => this.#open(db, r.ref, f.version));
        out.push({ view: toSecretView(r.ref.owner, f.row, f.version.version), value });
      }
      const events = out.flatMap((r) =>
        r === null
          ? []
          : [
              {
                action: "secret.reveal",
                owner: parseOwner(r.view.owner),
                key: r.view.key,
                version: r.view.version,
                outcome: "success",
                reason,
                details: { via: input.via },
              } as const,
            ],
      );
      await this.#store.transaction(NO_OWNERS, (tx) => this.#audit.appendAll(tx, actor, ctx, events));
    } catch (e) {
      for (const r of out) r?.value.wipe();
      throw e;
    }
    return out;
  }

  async #revealCurrent(
    actor: Actor,
    ctx: RequestContext,
    input: { readonly owner: string; readonly prefix?: string; readonly reason: string },
    via: string | null,
  ): Promise<ExportedSecret[]> {
    const owner = parseOwner(input.owner);
    const prefix = parsePrefix(input.prefix);
    const reason = await this.#revealAllowed(actor, ctx, owner, input.reason, {
      action: "secret.reveal",
      owner,
      key: null,
      version: null,
      reason: auditableReason(input.reason),
      outcome: "denied",
    });
    const out: ExportedSecret[] = [];
    try {
      await this.#store.read(ownerScope(owner), async (db) => {
        const found = await secretRepo.listCurrentVersions(db, cols(owner), prefix);
        for (const { secret, version } of found) await this.#state.checkCurrent(db, secret, version);
        for (const { secret: r, version: v } of found) {
          if (v === null) continue; // refused above
          const value = await this.#open(db, { owner, name: r.key_name as KeyName }, v);
          out.push({
            key: r.key_name,
            version: v.version,
            meta: storedMeta(owner, { id: r.id, key_name: r.key_name, meta: r.meta }),
            value,
          });
        }
      });
      const details = via === null ? {} : { details: { via } };
      const events = out.map(
        (r) => ({ action: "secret.reveal", owner, key: r.key, version: r.version, outcome: "success", reason, ...details }) as const,
      );
      await this.#store.transaction(NO_OWNERS, (tx) => this.#audit.appendAll(tx, actor, ctx, events));
    } catch (e) {
      for (const v of out) v.value.wipe();
      throw e;
    }
    return out;
  }

  /**
   * The `secrets:write` gate of an import, on the owner when it is known (a bundle may name its
   * own), before an adapter spends work decrypting the source; refusals are audited.
   * `importMany` checks again. @throws CofferError SCOPE_DENIED.
   */
  async authorizeImport(actor: Actor, ctx: RequestContext, owner: string | null): Promise<void> {
    const parsed = owner === null ? null : parseOwner(owner);
    const denied = { action: "secret.import", owner: parsed, key: null, version: null, reason: null, outcome: "denied" } as const;
    await this.#allow(actor, ctx, "secrets:write", parsed, denied);
  }

  /**
   * Writes many secrets of one owner in ONE transaction: every entry is validated first (an
   * error names its line or key, and nothing is written), then each becomes a new version as
   * `set` would make it, audited one `secret.import` event each; `replace` also deletes (soft)
   * every live secret not in the input, audited as `secret.unset`. Needs `secrets:write` on the
   * owner; the write rate limit counts the import once.
   * @throws CofferError INVALID_INPUT, SCOPE_DENIED, RATE_LIMITED, AUDIT_FAILED, STORE_BUSY.
   */
  async importMany(actor: Actor, ctx: RequestContext, input: ImportInput): Promise<ImportSummary> {
    const owner = parseOwner(input.owner);
    const mode = parseWith(z.enum(IMPORT_MODES, { error: "must be merge or replace" }), input.mode, "mode");
    const entries = parseEntries(input.entries);
    const source = input.source ?? null;
    const base = { action: "secret.import", owner, key: null, version: null, reason: null } as const;
    await this.#allow(actor, ctx, "secrets:write", owner, { ...base, outcome: "denied" });
    await this.#limit(actor, ctx, "write", { ...base, outcome: "denied" });
    const failure = { ...base, outcome: "error", details: { mode, count: entries.length } } as const;
    return this.#sealing(actor, ctx, owner, failure, async (tx, scope) => {
      const now = this.#fx.now().toISOString();
      const by = actorLabel(actor);
      const secrets: ImportedKey[] = [];
      const events: AuditInput[] = [];
      const details = { mode, ...(source === null ? {} : { source }) };
      for (const e of entries) {
        const row = await lockOrCreate(tx, owner, e.name, now);
        const existed = row.deleted_at === null && row.current_version > 0;
        const w = await appendVersion(tx, row, {
          ...{ owner, name: e.name, value: e.value, meta: e.meta },
          scope,
          by,
          now,
          fx: this.#fx,
          state: this.#state,
        });
        secrets.push({ key: e.name, version: w.current_version, existed });
        events.push({ ...base, key: e.name, version: w.current_version, outcome: "success", details });
      }
      const deleted: string[] = [];
      if (mode === "replace") {
        const keep = new Set<string>(entries.map((e) => e.name));
        for (const row of await liveSecrets(tx, owner)) {
          if (keep.has(row.key_name)) continue;
          await this.#state.check(tx, row);
          await this.#state.write(tx, row, { deleted_at: now, updated_at: now });
          deleted.push(row.key_name);
          events.push({
            ...base,
            action: "secret.unset",
            key: row.key_name,
            version: row.current_version,
            outcome: "success",
            details: { via: "import --replace" },
          });
        }
      }
      await this.#audit.appendAll(tx, actor, ctx, events);
      const updated = secrets.filter((x) => x.existed).length;
      return { owner: formatOwner(owner), mode, imported: secrets.length, updated, deleted, secrets };
    });
  }

  /**
   * Mints a one-time reveal link for a secret's current (or a given) version: whoever presents
   * the returned token gets the plaintext once, before `ttl` (default 15m, at most 7d). Needs
   * everything a reveal needs (scope, reason, recent authentication, rate limit); audited.
   */
  async share(actor: Actor, ctx: RequestContext, input: RevealInput & { readonly ttl?: string }): Promise<SharedLink> {
    const ref = parseRef(input);
    const ttlMs = parseTtl(input.ttl ?? "15m");
    if (ttlMs > MAX_SHARE_TTL_MS) throw invalidInput("ttl", "must be at most 7d");
    const base = { action: "secret.share", owner: ref.owner, key: ref.name, version: input.version ?? null, reason: null } as const;
    const reason = await this.#revealAllowed(actor, ctx, ref.owner, input.reason, {
      ...base,
      reason: auditableReason(input.reason),
      outcome: "denied",
    });
    const version = input.version === undefined ? null : parseWith(Version, input.version, "version");
    const raw = this.#fx.random(32);
    const token = Secret.fromString(`coffer_share_${Buffer.from(raw).toString("base64url")}`);
    raw.fill(0);
    const now = this.#fx.now();
    const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
    const id = `s_${toHex(this.#fx.random(8))}`;
    const view = await this.#audited(actor, ctx, ownerScope(ref.owner), { ...base, reason, outcome: "error" }, async (tx) => {
      const found = await findLive(tx, ref, version, this.#state);
      await tokenRepo.insertShareLink(tx, {
        id,
        token_hash: sha256Hex(token.reveal()),
        owner_type: ref.owner.kind,
        owner_id: ownerIdColumn(ref.owner),
        key_name: ref.name,
        version: found.version.version,
        reason,
        created_by: actorLabel(actor),
        created_at: now.toISOString(),
        expires_at: expiresAt,
        used_at: null,
      });
      await this.#audit.append(tx, actor, ctx, {
        ...base,
        version: found.version.version,
        reason,
        outcome: "success",
        details: { link: id, expiresAt },
      });
      return toSecretView(ref.owner, found.row, found.version.version);
    });
    return { id, token, expiresAt, view };
  }

  /**
   * Redeems a one-time link: decrypts, then burns the link and writes the audit event in one
   * transaction; only if that burn wins does the plaintext leave, so it leaves exactly once.
   * Failed redemptions count against the client address's limit of failed authentications.
   * @throws CofferError SHARE_LINK_INVALID (unknown, used, expired, or minted by a token since
   * revoked: not said which), RATE_LIMITED.
   */
  async redeemShare(ctx: RequestContext, token: string): Promise<RevealedSecret> {
    if (this.#authGuard === null) return this.#redeemShare(ctx, token);
    return this.#authGuard.guard(ctx, "share-link", () => this.#redeemShare(ctx, token));
  }

  async #redeemShare(ctx: RequestContext, token: string): Promise<RevealedSecret> {
    const invalid = (): CofferError => new CofferError("SHARE_LINK_INVALID", "this link is unknown, already used or expired");
    if (!/^coffer_share_[A-Za-z0-9_-]{43}$/.test(token)) throw invalid();
    const link = await this.#store.read(NO_OWNERS, (db) => tokenRepo.findShareLinkByHash(db, sha256Hex(token)));
    const now = this.#fx.now().toISOString();
    if (link === null || link.used_at !== null || link.expires_at <= now) throw invalid();
    const actor: Actor = { kind: "share", linkId: link.id };
    const owner = ownerFromColumns(link.owner_type, link.owner_id);
    if (!(await this.#store.read(NO_OWNERS, (db) => isMinterActive(db, link.created_by, this.#fx.now())))) {
      await this.#audit.appendNow(actor, ctx, {
        action: "secret.reveal",
        owner,
        key: link.key_name,
        version: link.version,
        outcome: "denied",
        reason: null,
        details: { link: link.id, via: "share", rule: "the token that minted the link is revoked or expired" },
      });
      throw invalid();
    }
    const ref = { owner, name: link.key_name as KeyName };
    const found = await this.#store.read(ownerScope(owner), (db) => findLive(db, ref, link.version, this.#state));
    const value = await this.#store.read(ownerScope(owner), (db) => this.#open(db, ref, found.version));
    try {
      const burned = await this.#store.transaction(NO_OWNERS, async (tx) => {
        if (!(await tokenRepo.burnShareLink(tx, link.id, now))) return false;
        await this.#audit.append(tx, actor, ctx, {
          action: "secret.reveal",
          owner,
          key: link.key_name,
          version: link.version,
          outcome: "success",
          reason: link.reason,
          details: { link: link.id, via: "share" },
        });
        return true;
      });
      if (!burned) throw invalid();
    } catch (e) {
      value.wipe();
      throw e;
    }
    return { view: toSecretView(owner, found.row, link.version), value };
  }

  /** Soft delete: hidden from list/get, versions kept for history. @throws CofferError NOT_FOUND, CONFLICT. */
  async unset(actor: Actor, ctx: RequestContext, input: RefInput & { readonly expectedVersion?: number }): Promise<SecretView> {
    const ref = parseRef(input);
    const expected = input.expectedVersion === undefined ? null : parseWith(ExpectedVersion, input.expectedVersion, "expectedVersion");
    const base = { action: "secret.unset", owner: ref.owner, key: ref.name, version: null, reason: null } as const;
    await this.#allow(actor, ctx, "secrets:write", ref.owner, { ...base, outcome: "denied" });
    await this.#limit(actor, ctx, "write", { ...base, outcome: "denied" });
    return this.#audited(actor, ctx, ownerScope(ref.owner), { ...base, outcome: "error" }, async (tx) => {
      const { row } = await findLive(tx, ref, null, this.#state);
      if (expected !== null && expected !== row.current_version) {
        throw new CofferError(
          "CONFLICT",
          `${ref.name} is at version ${String(row.current_version)}, not the expected ${String(expected)}`,
          { key: ref.name, current: row.current_version, expected },
        );
      }
      const now = this.#fx.now().toISOString();
      const written = await this.#state.write(tx, row, { deleted_at: now, updated_at: now });
      await this.#audit.append(tx, actor, ctx, { ...base, version: row.current_version, outcome: "success" });
      return toSecretView(ref.owner, written);
    });
  }

  async list(
    actor: Actor,
    input: ListInput,
    ctx: RequestContext = LOCAL_CONTEXT,
  ): Promise<{ readonly items: readonly SecretView[]; readonly nextCursor: number | null }> {
    const owner = input.owner === undefined ? null : parseOwner(input.owner);
    const ownerType = input.ownerType === undefined ? null : parseWith(OwnerTypeFilter, input.ownerType, "ownerType");
    const limit = parseWith(Limit, input.limit ?? 1000, "limit");
    await this.#allow(actor, ctx, "secrets:read", owner, {
      action: "secret.list",
      owner,
      key: null,
      version: null,
      reason: null,
      outcome: "denied",
    });
    // Tenant isolation: whose rows come back is decided here, from the actor, on every page and
    // every dialect; the cursor is only a position. Row-level security (PostgreSQL) is the
    // second wall, `keepVisible` the check behind the query.
    const visible = this.#visibleOwners(actor);
    const filter = {
      visible,
      owner: owner === null ? null : cols(owner),
      ownerType,
      prefix: parsePrefix(input.prefix),
      includeDeleted: input.includeDeleted ?? false,
      afterId: input.cursor === undefined ? 0 : parseWith(Cursor, input.cursor, "cursor"),
      limit,
    };
    const scope = owner === null ? actorScope(actor) : ownerScope(owner);
    const found = await this.#store.read(scope, (db) => secretRepo.listSecrets(db, filter));
    const rows = keepVisible(visible, found);
    if (rows.length !== found.length) {
      this.#log.error(
        { action: "secret.list", dropped: found.length - rows.length },
        "the store returned rows of owners the caller cannot see; dropped",
      );
    }
    if (scope.kind === "all") {
      // The cross-owner (administrative) path is audited: who listed everything, and why.
      await this.#audit.appendNow(actor, ctx, {
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
    return { items, nextCursor: found.length === limit ? (found.at(-1)?.id ?? null) : null };
  }

  /** Every version, deleted secrets included. @throws CofferError NOT_FOUND. */
  async history(actor: Actor, input: RefInput, ctx: RequestContext = LOCAL_CONTEXT): Promise<readonly VersionView[]> {
    const ref = parseRef(input);
    await this.#allow(actor, ctx, "secrets:read", ref.owner, {
      action: "secret.history",
      owner: ref.owner,
      key: ref.name,
      version: null,
      reason: null,
      outcome: "denied",
    });
    return this.#store.read(ownerScope(ref.owner), async (db) => {
      const row = await secretRepo.findSecret(db, cols(ref.owner), ref.name);
      if (row === null) throw notFound(ref);
      const versions = await secretRepo.listVersions(db, row.id);
      await this.#state.checkCurrent(db, row, versions.find((v) => v.version === row.current_version) ?? null);
      return versions.map((v) => toVersionView(v, row.current_version));
    });
  }

  /** New DEK for every stored version, values re-encrypted under the owner's active scope key. */
  async rotate(actor: Actor, ctx: RequestContext, input: RefInput): Promise<SecretView> {
    const ref = parseRef(input);
    const base = { action: "secret.rotate", owner: ref.owner, key: ref.name, reason: null } as const;
    await this.#allow(actor, ctx, "secrets:write", ref.owner, { ...base, version: null, outcome: "denied" });
    await this.#limit(actor, ctx, "write", { ...base, version: null, outcome: "denied" });
    return this.#sealing(actor, ctx, ref.owner, { ...base, version: null, outcome: "error" }, async (tx, scope) => {
      const { row } = await findLive(tx, ref, null, this.#state);
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
          // A rotation decrypts anyway: it (re)computes the plaintext HMAC under the current HMAC key.
          await secretRepo.updateVersionHmac(tx, { secretId: row.id, version: v.version }, await this.#state.valueHmac(tx, value));
        } finally {
          value.wipe();
        }
      }
      const now = this.#fx.now().toISOString();
      const written = await this.#state.write(tx, row, { last_rotated_at: now, updated_at: now });
      await this.#audit.append(tx, actor, ctx, {
        ...base,
        version: row.current_version,
        outcome: "success",
        details: { versions: versions.length },
      });
      return toSecretView(ref.owner, written);
    });
  }

  /** Walks the audit chain; see {@link AuditLog.verify}. Needs `audit:read`. */
  async verifyAudit(actor: Actor, ctx: RequestContext = LOCAL_CONTEXT, anchor: AuditAnchor | null = null): Promise<AuditVerification> {
    await this.#allow(actor, ctx, "audit:read", null, {
      action: "audit.verify",
      owner: null,
      key: null,
      version: null,
      reason: null,
      outcome: "denied",
    });
    return this.#audit.verify(anchor);
  }

  /** Refuses (audited) an actor that lacks the permission on the owner. @throws CofferError SCOPE_DENIED. */
  async #allow(actor: Actor, ctx: RequestContext, permission: Permission, owner: Owner | null, denied: AuditInput): Promise<void> {
    const why = denial(actor, permission, owner);
    if (why === null) return;
    await this.#audit.appendNow(actor, ctx, { ...denied, outcome: "denied", details: { rule: why } });
    throw deniedError(permission, owner, why);
  }

  async #limit(actor: Actor, ctx: RequestContext, kind: "reveal" | "write", denied: AuditInput): Promise<void> {
    if (this.#limiter === null) return;
    try {
      await this.#limiter.hit(actor, kind);
    } catch (e) {
      if (isCofferError(e) && e.code === "RATE_LIMITED")
        await this.#audit.appendNow(actor, ctx, { ...denied, outcome: "denied", details: { rule: `${kind} rate limit` } });
      throw e;
    }
  }

  /**
   * Every gate of a reveal, each refusal audited: the `secrets:reveal` scope on the owner, a
   * reason, recent authentication (the re-auth hook), and the reveal rate limit.
   * @returns the validated reason.
   */
  async #revealAllowed(actor: Actor, ctx: RequestContext, owner: Owner, rawReason: string, denied: AuditInput): Promise<string> {
    await this.#allow(actor, ctx, "secrets:reveal", owner, denied);
    let reason: string;
    try {
      reason = parseWith(Reason, rawReason, "reason");
    } catch (e) {
      await this.#audit.appendNow(actor, ctx, { ...denied, outcome: "denied", details: { rule: "reason required" } });
      throw e;
    }
    if (actor.kind === "token" && this.#reauth !== null) {
      const decision = await this.#reauth(actor, ctx);
      if (!decision.ok) {
        await this.#audit.appendNow(actor, ctx, { ...denied, reason, outcome: "denied", details: { rule: "re-authentication required" } });
        throw new CofferError("REAUTH_REQUIRED", `re-authentication required to reveal: ${decision.why}`);
      }
    }
    await this.#limit(actor, ctx, "reveal", { ...denied, reason });
    return reason;
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
