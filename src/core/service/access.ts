import { CofferError, invalidInput } from "../errors/index.ts";
import { formatOwner, OwnerId, type Owner } from "../model/index.ts";
import type { OwnerScope } from "../store/index.ts";
import { PERMISSIONS, type Actor, type Permission } from "./actor.ts";

export const OWNER_PATTERN_RULE = "must be 'user/<id>', 'project/<id>', 'user/*', 'project/*', 'system' or '*'";

/**
 * Parses a token's owner pattern: one owner, every owner of a type, or `*` (every owner).
 * @throws CofferError INVALID_INPUT naming `field`.
 */
export function parseOwnerPattern(text: string, field = "owners"): string {
  if (text === "*" || text === "system") return text;
  const m = /^(user|project)\/(.+)$/.exec(text);
  if (m !== null && (m[2] === "*" || OwnerId.safeParse(m[2]).success)) return text;
  throw invalidInput(field, OWNER_PATTERN_RULE);
}

export function parsePermission(text: string, field = "scopes"): Permission {
  if ((PERMISSIONS as readonly string[]).includes(text)) return text as Permission;
  throw invalidInput(field, `must be one of ${PERMISSIONS.join(", ")}`);
}

/** Whether an owner matches one of the patterns (`*`, `type/*`, or exact). */
export function ownerMatches(patterns: readonly string[], owner: Owner): boolean {
  const text = formatOwner(owner);
  for (const p of patterns) {
    if (p === "*" || p === text) return true;
    if (p.endsWith("/*") && owner.kind !== "system" && p === `${owner.kind}/*`) return true;
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
 * Everything an actor may see when no owner is named (a list across owners): the local
 * operator and admin tokens see every owner (on the explicit, audited `all` path); other
 * tokens see the owners their patterns name, enforced by row-level security on PostgreSQL.
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
