import { sha256Hex, systemEffects, toHex, type Effects } from "../../crypto/index.ts";
import { CofferError, invalidInput } from "../../errors/index.ts";
import { parseWith, lazySchema } from "../../model/index.ts";
import { Secret } from "../../secret/index.ts";
import { NO_OWNERS, tokenRepo, type Store } from "../../store/index.ts";
import { parseOwnerPattern, parsePermission } from "../access/access.ts";
import { AccessGate } from "../access/gate.ts";
import { actorLabel, PERMISSIONS, type Actor, type Permission, type RequestContext, type TokenActor } from "../access/actor.ts";
import { parseStoredJson } from "../secrets/stored-row.ts";
import type { AuditInput, AuditLog } from "../audit/audit-log.ts";
import type { AuthGuard } from "../access/auth-guard.ts";

const STORED_SCOPES = lazySchema((z) => z.array(z.enum(PERMISSIONS)));
const STORED_OWNERS = lazySchema((z) => z.array(z.string()));

/** What may be shown about a token: never the token, never its hash. */
export type TokenView = {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly Permission[];
  readonly owners: readonly string[];
  readonly interactive: boolean;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly expiresAt: string | null;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
};

export type CreateTokenInput = {
  readonly name: string;
  readonly scopes: readonly string[];
  readonly owners: readonly string[];
  /** Lifetime such as `90m`, `12h`, `30d`; none: does not expire. */
  readonly ttl?: string | null | undefined;
  /** A person's token: reveals need recent authentication (the re-auth hook). */
  readonly interactive?: boolean | undefined;
};

export type CreatedToken = { readonly token: Secret; readonly view: TokenView };

const TOKEN_PREFIX = "coffer_";
const TOKEN_SHAPE = /^coffer_[A-Za-z0-9_-]{43}$/;
const TOUCH_EVERY_MS = 60_000;
/**
 * How long a verified token is trusted without asking the database again. A revocation on this
 * server takes effect at once; on another server sharing the database, within this time.
 */
export const TOKEN_CACHE_MS = 2_000;
const TOKEN_CACHE_MAX = 10_000;
export const TTL_RULE = "must be a whole number of seconds, minutes, hours or days, e.g. 90m, 12h, 30d";
const TokenName = lazySchema((z) =>
  z.string().check(z.regex(/^[A-Za-z0-9][A-Za-z0-9 ._@:-]{0,63}$/, "must be 1-64 chars of letters, digits, ' ', '.', '_', '@', ':', '-'")),
);
const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90m`, `12h`, `30d` in milliseconds. @throws CofferError INVALID_INPUT naming `field`. */
export function parseTtl(text: string, field = "ttl"): number {
  const m = /^([1-9][0-9]{0,5})([smhd])$/.exec(text);
  if (m === null) throw invalidInput(field, TTL_RULE);
  return Number(m[1]) * (UNIT_MS[m[2] ?? "s"] ?? 1000);
}

function unauthenticated(why: string): CofferError {
  return new CofferError("UNAUTHENTICATED", `authentication failed: ${why}`);
}

function toView(r: tokenRepo.TokenRow): TokenView {
  return {
    id: r.id,
    name: r.name,
    scopes: parseStoredJson(r.scopes, STORED_SCOPES, { table: "tokens", row: r.id }, "scopes", "is not a JSON array of permissions"),
    owners: parseStoredJson(r.owners, STORED_OWNERS, { table: "tokens", row: r.id }, "owners", "is not a JSON array of strings"),
    interactive: r.interactive === 1,
    createdAt: r.created_at,
    createdBy: r.created_by,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

/**
 * API tokens: created (by the local operator or an admin token), shown once, stored only as a
 * SHA-256, scoped by permissions and owner patterns, expiring and revocable. Every change is
 * audited; any server on the same database accepts or refuses a token alike.
 */
export class TokenService {
  readonly #store: Store;
  readonly #audit: AuditLog;
  readonly #fx: Effects;
  readonly #guard: AuthGuard | null;
  readonly #gate: AccessGate;
  /** Token hash → the actor and its row's expiry, with when it was read. */
  readonly #cache = new Map<string, { readonly actor: TokenActor; readonly expiresAt: number | null; readonly readAt: number }>();

  constructor(deps: { store: Store; audit: AuditLog; fx?: Effects; guard?: AuthGuard | null }) {
    this.#guard = deps.guard ?? null;
    this.#gate = new AccessGate(deps.audit);
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#fx = deps.fx ?? systemEffects;
  }

  /** @throws CofferError INVALID_INPUT, SCOPE_DENIED (needs admin). */
  async create(actor: Actor, ctx: RequestContext, input: CreateTokenInput): Promise<CreatedToken> {
    const name = parseWith(TokenName, input.name, "name");
    if (input.scopes.length === 0) throw invalidInput("scopes", "must name at least one scope");
    if (input.owners.length === 0) throw invalidInput("owners", "must name at least one owner pattern");
    const scopes = [...new Set(input.scopes.map((s) => parsePermission(s)))];
    const owners = [...new Set(input.owners.map((o) => parseOwnerPattern(o)))];
    const ttlMs = input.ttl === undefined || input.ttl === null ? null : parseTtl(input.ttl);
    await this.#allowAdmin(actor, ctx, "token.create");
    const now = this.#fx.now();
    return this.#insert(actor, ctx, {
      id: `t_${toHex(this.#fx.random(8))}`,
      name,
      scopes,
      owners,
      interactive: input.interactive ?? false,
      now,
      expiresAt: ttlMs === null ? null : new Date(now.getTime() + ttlMs).toISOString(),
    });
  }

  /**
   * On a fresh database (no token at all), creates the first admin token (`admin`, owners `*`)
   * and returns it, once; afterwards returns null. Of several servers starting together on one
   * PostgreSQL, exactly one creates it (its fixed id is the primary key).
   */
  async bootstrap(actor: Actor, ctx: RequestContext): Promise<CreatedToken | null> {
    if ((await this.#store.read(NO_OWNERS, (db) => tokenRepo.countTokens(db))) > 0) return null;
    try {
      return await this.#insert(actor, ctx, {
        id: "t_bootstrap",
        name: "first admin",
        scopes: ["admin"],
        owners: ["*"],
        interactive: false,
        now: this.#fx.now(),
        expiresAt: null,
      });
    } catch (e) {
      // Another server created it first.
      if ((await this.#store.read(NO_OWNERS, (db) => tokenRepo.findToken(db, "t_bootstrap"))) !== null) return null;
      throw e;
    }
  }

  async list(actor: Actor, ctx: RequestContext): Promise<readonly TokenView[]> {
    await this.#allowAdmin(actor, ctx, "token.list");
    return (await this.#store.read(NO_OWNERS, (db) => tokenRepo.listTokens(db))).map(toView);
  }

  /** @throws CofferError NOT_FOUND, SCOPE_DENIED. */
  async revoke(actor: Actor, ctx: RequestContext, id: string): Promise<TokenView> {
    await this.#allowAdmin(actor, ctx, "token.revoke");
    const at = this.#fx.now().toISOString();
    return this.#store.transaction(NO_OWNERS, async (tx) => {
      const row = await tokenRepo.findToken(tx, id);
      if (row === null) throw new CofferError("NOT_FOUND", "no such token", { field: "id" });
      await tokenRepo.revokeToken(tx, id, at);
      for (const [hash, c] of this.#cache) if (c.actor.tokenId === id) this.#cache.delete(hash);
      await this.#audit.append(tx, actor, ctx, { ...this.#event("token.revoke", "success"), details: { token: id } });
      return toView({ ...row, revoked_at: row.revoked_at ?? at });
    });
  }

  /**
   * The actor a bearer token stands for. With the request's context, failures count against the
   * client address's limit (the {@link AuthGuard}), and an address over it is refused outright.
   * @throws CofferError UNAUTHENTICATED (unknown, malformed, expired or revoked; which one is not said to the caller), RATE_LIMITED.
   */
  async authenticate(token: string, ctx?: RequestContext): Promise<TokenActor> {
    const hash = TOKEN_SHAPE.test(token) ? sha256Hex(token) : null;
    const guard = this.#guard;
    // The per-request case: a token verified within TOKEN_CACHE_MS, from an address the guard
    // would admit without a lookup. The same answer as the guarded path below, without its awaits.
    if (hash !== null && (guard === null || ctx === undefined || guard.admitsAtOnce(ctx))) {
      const cached = this.#cache.get(hash);
      const nowMs = this.#fx.now().getTime();
      if (cached !== undefined && nowMs - cached.readAt < TOKEN_CACHE_MS && (cached.expiresAt === null || cached.expiresAt > nowMs))
        return cached.actor;
    }
    if (guard === null || ctx === undefined) return this.#authenticate(hash);
    return guard.guard(ctx, "token", () => this.#authenticate(hash));
  }

  /** `hash`: the token's SHA-256, null when the token is malformed. */
  async #authenticate(hash: string | null): Promise<TokenActor> {
    if (hash === null) throw unauthenticated("the token is malformed");
    const now = this.#fx.now();
    const cached = this.#cache.get(hash);
    if (cached !== undefined && now.getTime() - cached.readAt < TOKEN_CACHE_MS) {
      if (cached.expiresAt !== null && cached.expiresAt <= now.getTime()) throw unauthenticated("the token is unknown, expired or revoked");
      return cached.actor;
    }
    this.#cache.delete(hash);
    const row = await this.#store.read(NO_OWNERS, (db) => tokenRepo.findTokenByHash(db, hash));
    if (row === null || row.revoked_at !== null || (row.expires_at !== null && Date.parse(row.expires_at) <= now.getTime()))
      throw unauthenticated("the token is unknown, expired or revoked");
    if (row.last_used_at === null || now.getTime() - Date.parse(row.last_used_at) > TOUCH_EVERY_MS) {
      // At most one write a minute per token: last use is for people, not for accounting.
      await this.#store.transaction(NO_OWNERS, (tx) => tokenRepo.touchToken(tx, row.id, now.toISOString()));
    }
    const v = toView(row);
    const actor: TokenActor = Object.freeze({
      kind: "token",
      tokenId: v.id,
      name: v.name,
      scopes: Object.freeze([...v.scopes]),
      owners: Object.freeze([...v.owners]),
      interactive: v.interactive,
      authenticatedAt: row.authenticated_at,
    });
    if (this.#cache.size >= TOKEN_CACHE_MAX) this.#cache.clear();
    this.#cache.set(hash, { actor, expiresAt: row.expires_at === null ? null : Date.parse(row.expires_at), readAt: now.getTime() });
    return actor;
  }

  /**
   * The actor of an admin-console session: the token `tokenId` as it is now (scopes, owners,
   * revocation, expiry re-read from the database), with `authenticatedAt` the time the token was
   * last presented to the console, so the re-auth rule for reveals applies to the session.
   * @throws CofferError UNAUTHENTICATED when the token is gone, revoked or expired.
   */
  async actorForSession(tokenId: string, authenticatedAt: string): Promise<TokenActor> {
    const row = await this.#store.read(NO_OWNERS, (db) => tokenRepo.findToken(db, tokenId));
    const now = this.#fx.now().getTime();
    if (row === null || row.revoked_at !== null || (row.expires_at !== null && Date.parse(row.expires_at) <= now))
      throw unauthenticated("the console session's token is unknown, expired or revoked; sign in again");
    const v = toView(row);
    return Object.freeze({
      kind: "token",
      tokenId: v.id,
      name: v.name,
      scopes: Object.freeze([...v.scopes]),
      owners: Object.freeze([...v.owners]),
      interactive: v.interactive,
      authenticatedAt,
    });
  }

  async #insert(
    actor: Actor,
    ctx: RequestContext,
    t: {
      id: string;
      name: string;
      scopes: readonly Permission[];
      owners: readonly string[];
      interactive: boolean;
      now: Date;
      expiresAt: string | null;
    },
  ): Promise<CreatedToken> {
    const raw = this.#fx.random(32);
    const text = `${TOKEN_PREFIX}${Buffer.from(raw).toString("base64url")}`;
    raw.fill(0);
    const token = Secret.fromString(text);
    const row: tokenRepo.TokenRow = {
      id: t.id,
      name: t.name,
      token_hash: sha256Hex(text),
      scopes: JSON.stringify(t.scopes),
      owners: JSON.stringify(t.owners),
      interactive: t.interactive ? 1 : 0,
      created_at: t.now.toISOString(),
      created_by: actorLabel(actor),
      authenticated_at: t.now.toISOString(),
      expires_at: t.expiresAt,
      last_used_at: null,
      revoked_at: null,
    };
    await this.#store.transaction(NO_OWNERS, async (tx) => {
      await tokenRepo.insertToken(tx, row);
      await this.#audit.append(tx, actor, ctx, {
        ...this.#event("token.create", "success"),
        details: { token: t.id, scopes: t.scopes.join(","), owners: t.owners.join(",") },
      });
    });
    return { token, view: toView(row) };
  }

  /** Refuses (audited, as `action` with outcome denied) an actor without the `admin` scope. @throws CofferError SCOPE_DENIED. */
  #allowAdmin(actor: Actor, ctx: RequestContext, action: string): Promise<void> {
    return this.#gate.admin(actor, ctx, action);
  }

  #event(action: string, outcome: AuditInput["outcome"]): AuditInput {
    return { action, owner: null, key: null, version: null, outcome, reason: null };
  }
}
