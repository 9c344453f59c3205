import { formatOwner, type Owner } from "../../model/index.ts";
import type { OwnerScope } from "../../store/index.ts";

/** The database scope of work on one owner's rows. */
export function ownerScope(owner: Owner): OwnerScope {
  return { kind: "owners", patterns: [formatOwner(owner)] };
}
