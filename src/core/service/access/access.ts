import { CofferError, invalidInput } from "../../errors/index.ts";
import { formatOwner, isOwnerId, SYSTEM_OWNER_ID, type Owner } from "../../model/index.ts";
import type { OwnerFilter, OwnerScope } from "../../store/index.ts";
import { PERMISSIONS, type Actor, type Permission } from "./actor.ts";

export const OWNER_PATTERN_RULE = "must be 'user/<id>', 'project/<id>', 'user/*', 'project/*', 'system' or '*'";

/**
 * Parses a token's owner pattern: one owner, every owner of a type, or `*` (every owner).
 * @throws CofferError INVALID_INPUT naming `field`.
 */
export function parseOwnerPattern(text: string, field = "owners"): string {
  if (text === "*" || text === "system") return text;
  const m = /^(user|project)\/(.+)$/.exec(text);
  if (m !== null && (m[2] === "*" || isOwnerId(m[2]))) return text;
  throw invalidInput(field, OWNER_PATTERN_RULE);
}

export function parsePermission(text: string, field = "scopes"): Permission {
  if ((PERMISSIONS as readonly string[]).includes(text)) return text as Permission;
  throw invalidInput(field, `must be one of ${PERMISSIONS.join(", ")}`);
}

/** Whether an owner matches one of the patterns (`*`, `type/*`, or exact). */
export function ownerMatches(patterns: readonly string[], owner: Owner): boolean {
  return textMatches(patterns, owner.kind, formatOwner(owner));
}

/**
 * {@link ownerMatches} on a stored row's owner columns, without parsing them (a row whose
 * columns are not a valid owner matches only `*`). Synchronous and allocation-light: it runs
 * once per listed row as the service's second check.
 */
export function ownerColumnsMatch(patterns: readonly string[], ownerType: string | null, ownerId: string | null): boolean {
  if (ownerType === null) return false;
  const text = ownerType === "system" && ownerId === SYSTEM_OWNER_ID ? "system" : `${ownerType}/${ownerId ?? ""}`;
  return textMatches(patterns, ownerType, text);
}

function textMatches(patterns: readonly string[], kind: string, text: string): boolean {
  for (const p of patterns) {
    if (p === "*" || p === text) return true;
    if (kind !== "system" && p === `${kind}/*`) return true;
  }
  return false;
}

/** Whether the actor holds a permission. `admin` holds every permission, on every owner. */
export function holds(actor: Actor, permission: Permission): boolean {
  switch (actor.kind) {
    case "local":
      return true;
    case "share":
      return false;
    case "token":
      return actor.scopes.includes("admin") || actor.scopes.includes(permission);
  }
}

export function mayActOn(actor: Actor, owner: Owner): boolean {
  switch (actor.kind) {
    case "local":
      return true;
    case "share":
      return false;
    case "token":
      return actor.scopes.includes("admin") || ownerMatches(actor.owners, owner);
  }
}

/** Why an actor may not do something, or null when it may. */
export function denial(actor: Actor, permission: Permission, owner: Owner | null): string | null {
  if (!holds(actor, permission)) return `missing scope ${permission}`;
  if (owner !== null && !mayActOn(actor, owner)) return "owner not in the token's owner patterns";
  return null;
}

export function deniedError(permission: Permission, owner: Owner | null, why: string): CofferError {
  const target = owner === null ? "" : ` on ${formatOwner(owner)}`;
  return new CofferError("SCOPE_DENIED", `not allowed: ${permission}${target} (${why})`, {
    permission,
    ...(owner === null ? {} : { owner: formatOwner(owner) }),
  });
}

/**
 * The database scope of a list across owners: the local operator and admin tokens see every
 * owner (on the explicit, audited `all` path); other tokens the owners their patterns name. On
 * PostgreSQL row-level security reads it; the service also filters the query itself with
 * {@link visibleOwners}, which is what holds on SQLite.
 */
export function actorScope(actor: Actor): OwnerScope {
  switch (actor.kind) {
    case "local":
      return { kind: "all", why: `local operator ${actor.user}` };
    case "share":
      return { kind: "owners", patterns: [] };
    case "token":
      if (actor.scopes.includes("admin") || actor.owners.includes("*")) return { kind: "all", why: `token ${actor.tokenId}` };
      return { kind: "owners", patterns: actor.owners };
  }
}

/**
 * Tenant isolation for listings, decided by the service from the actor alone (never from the
 * request or a cursor), on every dialect: the owner patterns a listing is limited to, or null
 * for every owner (the local operator, admin tokens and `*` tokens: the audited "all" path).
 * The list query carries it as a WHERE clause (`OwnerFilter`), and {@link keepVisible} checks
 * every returned row again; row-level security on PostgreSQL is a third, independent wall.
 */
export function visibleOwners(actor: Actor): OwnerFilter {
  const scope = actorScope(actor);
  return scope.kind === "all" ? null : scope.patterns;
}

/**
 * Defence in depth behind the query's own filter: drops every row whose owner is not visible,
 * so a store bug cannot leak another tenant's rows. Returns the input itself when all pass.
 */
export function keepVisible<R extends { readonly owner_type: string | null; readonly owner_id: string | null }>(
  visible: OwnerFilter,
  rows: readonly R[],
): readonly R[] {
  if (visible === null) return rows;
  return rows.every((r) => ownerColumnsMatch(visible, r.owner_type, r.owner_id))
    ? rows
    : rows.filter((r) => ownerColumnsMatch(visible, r.owner_type, r.owner_id));
}
