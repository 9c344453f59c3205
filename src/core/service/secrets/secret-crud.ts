import { CofferError } from "../../errors/index.ts";
import { parseOwner, parseWith } from "../../model/index.ts";
import { requestRepo, secretRepo } from "../../store/index.ts";
import { ownerScope } from "../access/scopes.ts";
import { actorScope, keepVisible } from "../access/access.ts";
import { actorLabel, type Actor, type RequestContext } from "../access/actor.ts";
import type { AuditInput } from "../audit/audit-log.ts";
import { sealToColumns } from "./sealing.ts";
import { appendVersion, lockOrCreate } from "./secret-write.ts";
import { cols, findLive, notFound, ownerOf } from "./secret-lookup.ts";
import {
  Cursor,
  ExpectedVersion,
  Limit,
  OwnerTypeFilter,
  Version,
  checkValueSize,
  parseMeta,
  parsePrefix,
  parseRef,
  type RefInput,
} from "./secret-inputs.ts";
import { toSecretView, toVersionView, type SecretView, type VersionView } from "./secret-views.ts";
import type { SecretsContext } from "./secrets-context.ts";
import type { IdempotentResult } from "./idempotency.ts";
import type { SetInput, ListInput } from "./secrets-service.ts";

/** Secrets CRUD: a new version, the masked views, soft delete and re-encryption (rotate). */
export class SecretCrud {
  readonly #c: SecretsContext;

  constructor(c: SecretsContext) {
    this.#c = c;
  }

  /**
   * Writes a new version (version numbers only grow, across deletes too).
   * @throws CofferError INVALID_INPUT, CONFLICT when `expectedVersion` is not the current one.
   */
  async set(actor: Actor, ctx: RequestContext, input: SetInput): Promise<SecretView> {
    return (await this.write(actor, ctx, input, null)).view;
  }

  async write(
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
    await this.#c.allow(actor, ctx, "secrets:write", ref.owner, audit(null, "denied"));
    await this.#c.limit(actor, ctx, "write", audit(null, "denied"));
    return this.#c.sealing(actor, ctx, ref.owner, audit(null, "error"), async (tx, scope) => {
      const now = this.#c.fx.now().toISOString();
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
        fx: this.#c.fx,
        state: this.#c.state,
      });
      const version = written.current_version;
      await this.#c.audit.append(tx, actor, ctx, audit(version, "success"));
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
  async get(actor: Actor, ctx: RequestContext, input: RefInput & { readonly version?: number }): Promise<SecretView> {
    const ref = parseRef(input);
    await this.#c.allow(actor, ctx, "secrets:read", ref.owner, {
      action: "secret.get",
      owner: ref.owner,
      key: ref.name,
      version: null,
      reason: null,
      outcome: "denied",
    });
    const version = input.version === undefined ? null : parseWith(Version, input.version, "version");
    return this.#c.store.read(ownerScope(ref.owner), async (db) => {
      if (version !== null) {
        const found = await findLive(db, ref, version, this.#c.state);
        return toSecretView(ref.owner, found.row, found.version.version);
      }
      // The masked view of the current version needs only the secret's row: one query.
      const row = await secretRepo.findSecret(db, cols(ref.owner), ref.name);
      if (row === null) throw notFound(ref);
      await this.#c.state.check(db, row);
      if (row.deleted_at !== null) throw notFound(ref);
      return toSecretView(ref.owner, row);
    });
  }

  /** Soft delete: hidden from list/get, versions kept for history. @throws CofferError NOT_FOUND, CONFLICT. */
  async unset(actor: Actor, ctx: RequestContext, input: RefInput & { readonly expectedVersion?: number }): Promise<SecretView> {
    const ref = parseRef(input);
    const expected = input.expectedVersion === undefined ? null : parseWith(ExpectedVersion, input.expectedVersion, "expectedVersion");
    const base = { action: "secret.unset", owner: ref.owner, key: ref.name, version: null, reason: null } as const;
    await this.#c.allow(actor, ctx, "secrets:write", ref.owner, { ...base, outcome: "denied" });
    await this.#c.limit(actor, ctx, "write", { ...base, outcome: "denied" });
    return this.#c.audited(actor, ctx, ownerScope(ref.owner), { ...base, outcome: "error" }, async (tx) => {
      const { row } = await findLive(tx, ref, null, this.#c.state);
      if (expected !== null && expected !== row.current_version) {
        throw new CofferError(
          "CONFLICT",
          `${ref.name} is at version ${String(row.current_version)}, not the expected ${String(expected)}`,
          { key: ref.name, current: row.current_version, expected },
        );
      }
      const now = this.#c.fx.now().toISOString();
      const written = await this.#c.state.write(tx, row, { deleted_at: now, updated_at: now });
      await this.#c.audit.append(tx, actor, ctx, { ...base, version: row.current_version, outcome: "success" });
      return toSecretView(ref.owner, written);
    });
  }

  async list(
    actor: Actor,
    ctx: RequestContext,
    input: ListInput,
  ): Promise<{ readonly items: readonly SecretView[]; readonly nextCursor: number | null }> {
    const owner = input.owner === undefined ? null : parseOwner(input.owner);
    const ownerType = input.ownerType === undefined ? null : parseWith(OwnerTypeFilter, input.ownerType, "ownerType");
    const limit = parseWith(Limit, input.limit ?? 1000, "limit");
    await this.#c.allow(actor, ctx, "secrets:read", owner, {
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
    const visible = this.#c.visibleOwners(actor);
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
    const found = await this.#c.store.read(scope, (db) => secretRepo.listSecrets(db, filter));
    const rows = keepVisible(visible, found);
    if (rows.length !== found.length) {
      this.#c.log.error(
        { action: "secret.list", dropped: found.length - rows.length },
        "the store returned rows of owners the caller cannot see; dropped",
      );
    }
    if (scope.kind === "all") {
      // The cross-owner (administrative) path is audited: who listed everything, and why.
      await this.#c.audit.appendNow(actor, ctx, {
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
  async history(actor: Actor, ctx: RequestContext, input: RefInput): Promise<readonly VersionView[]> {
    const ref = parseRef(input);
    await this.#c.allow(actor, ctx, "secrets:read", ref.owner, {
      action: "secret.history",
      owner: ref.owner,
      key: ref.name,
      version: null,
      reason: null,
      outcome: "denied",
    });
    return this.#c.store.read(ownerScope(ref.owner), async (db) => {
      const row = await secretRepo.findSecret(db, cols(ref.owner), ref.name);
      if (row === null) throw notFound(ref);
      const versions = await secretRepo.listVersions(db, row.id);
      await this.#c.state.checkCurrent(db, row, versions.find((v) => v.version === row.current_version) ?? null);
      return versions.map((v) => toVersionView(v, row.current_version));
    });
  }

  /** New DEK for every stored version, values re-encrypted under the owner's active scope key. */
  async rotate(actor: Actor, ctx: RequestContext, input: RefInput): Promise<SecretView> {
    const ref = parseRef(input);
    const base = { action: "secret.rotate", owner: ref.owner, key: ref.name, reason: null } as const;
    await this.#c.allow(actor, ctx, "secrets:write", ref.owner, { ...base, version: null, outcome: "denied" });
    await this.#c.limit(actor, ctx, "write", { ...base, version: null, outcome: "denied" });
    return this.#c.sealing(actor, ctx, ref.owner, { ...base, version: null, outcome: "error" }, async (tx, scope) => {
      const { row } = await findLive(tx, ref, null, this.#c.state);
      const versions = (await secretRepo.listVersions(tx, row.id)).filter((v) => v.destroyed_at === null);
      for (const v of versions) {
        const value = await this.#c.open(tx, ref, v);
        try {
          const sealed = sealToColumns(
            scope.key,
            value,
            { owner: ref.owner, name: ref.name, version: v.version, scopeKeyId: scope.id },
            this.#c.fx,
          );
          await secretRepo.updateVersionCipher(tx, { secretId: row.id, version: v.version }, sealed);
          // A rotation decrypts anyway: it (re)computes the plaintext HMAC under the current HMAC key.
          await secretRepo.updateVersionHmac(tx, { secretId: row.id, version: v.version }, await this.#c.state.valueHmac(tx, value));
        } finally {
          value.wipe();
        }
      }
      const now = this.#c.fx.now().toISOString();
      const written = await this.#c.state.write(tx, row, { last_rotated_at: now, updated_at: now });
      await this.#c.audit.append(tx, actor, ctx, {
        ...base,
        version: row.current_version,
        outcome: "success",
        details: { versions: versions.length },
      });
      return toSecretView(ref.owner, written);
    });
  }
}
