import { CofferError, isCofferError } from "../../errors/index.ts";
import { formatOwner, parseOwner, parseWith, type KeyName, type Owner } from "../../model/index.ts";
import { Secret } from "../../secret/index.ts";
import { NO_OWNERS, secretRepo } from "../../store/index.ts";
import { ownerScope } from "../access/scopes.ts";
import { type Actor, type RequestContext } from "../access/actor.ts";
import type { AuditInput } from "../audit/audit-log.ts";
import { cols, findLiveSealed } from "./secret-lookup.ts";
import { auditableReason, Version, parsePrefix, parseRef, type RefInput } from "./secret-inputs.ts";
import { storedMeta, toSecretView } from "./secret-views.ts";
import type { SecretsContext } from "./secrets-context.ts";
import type { RevealInput, RevealedSecret, ExportedSecret } from "./secrets-service.ts";

/** Reveal and export: the plaintext, each reveal audited (with its reason) before it leaves. */
export class SecretReveal {
  readonly #c: SecretsContext;

  constructor(c: SecretsContext) {
    this.#c = c;
  }

  /**
   * Returns the plaintext, after its audit event (with the reason) has committed: if the event
   * cannot be written, nothing is revealed. The per-token reveal limit's hit is counted in that
   * same transaction (one write transaction per reveal, shared with concurrent ones by the audit
   * log's group commit); a reveal that fails before its event (not found, corrupt row) still
   * commits its hit, and over the limit every outcome becomes RATE_LIMITED, audited as denied.
   * @throws CofferError INVALID_INPUT (no reason), NOT_FOUND, DECRYPT_FAILED, AUDIT_FAILED, RATE_LIMITED.
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
    const reason = await this.#c.revealGates(actor, ctx, ref.owner, input.reason, { ...base, outcome: "denied" });
    const limit = this.#c.revealLimit(actor, { ...base, reason, outcome: "denied" });
    let found: Awaited<ReturnType<typeof findLiveSealed>>;
    let view: ReturnType<typeof toSecretView>;
    try {
      const version = input.version === undefined ? null : parseWith(Version, input.version, "version");
      found = await this.#c.store.read(ownerScope(ref.owner), (db) => findLiveSealed(db, ref, version, this.#c.state));
      // Before decrypting and auditing: a corrupt row (STORE_CORRUPT) reveals nothing.
      view = toSecretView(ref.owner, found.row, found.version.version);
    } catch (e) {
      // The hit counts all the same (RATE_LIMITED instead when over the limit).
      await this.#c.audit.appendNow(actor, ctx, null, limit);
      throw e;
    }
    let value: Secret;
    try {
      value = await this.#c.store.read(ownerScope(ref.owner), (db) => this.#c.open(db, ref, found.version));
    } catch (e) {
      await this.#c.audit.appendNow(
        actor,
        ctx,
        { ...base, version: found.version.version, reason, outcome: "error", details: { code: isCofferError(e) ? e.code : "INTERNAL" } },
        limit,
      );
      throw e;
    }
    try {
      await this.#c.audit.appendNow(actor, ctx, { ...base, version: found.version.version, reason, outcome: "success" }, limit);
    } catch (e) {
      value.wipe();
      throw e;
    }
    // Debug, not info: the reveal's record is its audit event, and the server's request line
    // already logs each call; a second info line per reveal cost a redacted pino line apiece.
    this.#c.log.debug({ action: "secret.reveal", key: ref.name, version: found.version.version }, "secret revealed");
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
    for (const owner of owners.values()) await this.#c.allow(actor, ctx, "secrets:reveal", owner, denied(owner));
    const first = refs[0];
    if (first === undefined) return [];
    const reason = await this.#c.revealAllowed(actor, ctx, first.ref.owner, input.reason, denied(first.ref.owner));
    // Every secret is found before any is opened, so a missing one fails the whole call first.
    const found = await Promise.all(
      refs.map(({ ref, version }) =>
        this.#c.store.read(ownerScope(ref.owner), async (db) => {
          try {
            return await findLiveSealed(db, ref, version, this.#c.state);
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
        const value = await this.#c.store.read(ownerScope(r.ref.owner), (db) => this.#c.open(db, r.ref, f.version));
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
      await this.#c.store.transaction(NO_OWNERS, (tx) => this.#c.audit.appendAll(tx, actor, ctx, events));
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
    const reason = await this.#c.revealAllowed(actor, ctx, owner, input.reason, {
      action: "secret.reveal",
      owner,
      key: null,
      version: null,
      reason: auditableReason(input.reason),
      outcome: "denied",
    });
    const out: ExportedSecret[] = [];
    try {
      await this.#c.store.read(ownerScope(owner), async (db) => {
        const found = await secretRepo.listCurrentVersions(db, cols(owner), prefix);
        for (const { secret, version } of found) await this.#c.state.checkCurrent(db, secret, version);
        for (const { secret: r, version: v } of found) {
          if (v === null) continue; // refused above
          const value = await this.#c.open(db, { owner, name: r.key_name as KeyName }, v);
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
      await this.#c.store.transaction(NO_OWNERS, (tx) => this.#c.audit.appendAll(tx, actor, ctx, events));
    } catch (e) {
      for (const v of out) v.value.wipe();
      throw e;
    }
    return out;
  }
}
