import { formatOwner, type Owner } from "../model/index.ts";
import type { OwnerScope } from "../store/index.ts";
import type { Actor } from "./actor.ts";

/** The database scope of work on one owner's rows. */
export function ownerScope(owner: Owner): OwnerScope {
  return { kind: "owners", patterns: [formatOwner(owner)] };
}

/**
 * Everything an actor may see when no owner is named (a list across owners). The local CLI
 * acts as the machine's operator, who holds the master key and so may see every owner.
 */
export function actorScope(actor: Actor): OwnerScope {
  return { kind: "all", why: `local operator ${actor.user}` };
}
