import { CofferError, invalidInput } from "../../errors/index.ts";
import { sha256Hex, toHex } from "../../crypto/index.ts";
import { ownerFromColumns, ownerIdColumn, parseWith, type KeyName } from "../../model/index.ts";
import { Secret } from "../../secret/index.ts";
import { parseTtl } from "../tokens/tokens.ts";
import { NO_OWNERS, tokenRepo } from "../../store/index.ts";
import { ownerScope } from "../access/scopes.ts";
import { actorLabel, type Actor, type RequestContext } from "../access/actor.ts";
import { isMinterActive } from "../access/auth-guard.ts";
import { findLive, findLiveSealed } from "../secrets/secret-lookup.ts";
import { auditableReason, Version, parseRef } from "../secrets/secret-inputs.ts";
import { toSecretView } from "../secrets/secret-views.ts";
import type { SecretsContext } from "../secrets/secrets-context.ts";
import type { RevealInput, RevealedSecret, SharedLink } from "../secrets/secrets-service.ts";
const MAX_SHARE_TTL_MS = 7 * 86_400_000;

/** One-time share links: minted with every gate of a reveal, redeemed exactly once. */
export class ShareLinks {
  readonly #c: SecretsContext;

  constructor(c: SecretsContext) {
    this.#c = c;
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
    const reason = await this.#c.revealAllowed(actor, ctx, ref.owner, input.reason, {
      ...base,
      reason: auditableReason(input.reason),
      outcome: "denied",
    });
    const version = input.version === undefined ? null : parseWith(Version, input.version, "version");
    const raw = this.#c.fx.random(32);
    const token = Secret.fromString(`coffer_share_${Buffer.from(raw).toString("base64url")}`);
    raw.fill(0);
    const now = this.#c.fx.now();
    const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
    const id = `s_${toHex(this.#c.fx.random(8))}`;
    const view = await this.#c.audited(actor, ctx, ownerScope(ref.owner), { ...base, reason, outcome: "error" }, async (tx) => {
      const found = await findLive(tx, ref, version, this.#c.state);
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
      await this.#c.audit.append(tx, actor, ctx, {
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
    if (this.#c.authGuard === null) return this.#redeemShare(ctx, token);
    return this.#c.authGuard.guard(ctx, "share-link", () => this.#redeemShare(ctx, token));
  }

  async #redeemShare(ctx: RequestContext, token: string): Promise<RevealedSecret> {
    const invalid = (): CofferError => new CofferError("SHARE_LINK_INVALID", "this link is unknown, already used or expired");
    if (!/^coffer_share_[A-Za-z0-9_-]{43}$/.test(token)) throw invalid();
    const link = await this.#c.store.read(NO_OWNERS, (db) => tokenRepo.findShareLinkByHash(db, sha256Hex(token)));
    const now = this.#c.fx.now().toISOString();
    if (link === null || link.used_at !== null || link.expires_at <= now) throw invalid();
    const actor: Actor = { kind: "share", linkId: link.id };
    const owner = ownerFromColumns(link.owner_type, link.owner_id);
    if (!(await this.#c.store.read(NO_OWNERS, (db) => isMinterActive(db, link.created_by, this.#c.fx.now())))) {
      await this.#c.audit.appendNow(actor, ctx, {
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
    const found = await this.#c.store.read(ownerScope(owner), (db) => findLiveSealed(db, ref, link.version, this.#c.state));
    const value = await this.#c.store.read(ownerScope(owner), (db) => this.#c.open(db, ref, found.version));
    try {
      const burned = await this.#c.store.transaction(NO_OWNERS, async (tx) => {
        if (!(await tokenRepo.burnShareLink(tx, link.id, now))) return false;
        await this.#c.audit.append(tx, actor, ctx, {
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
}
