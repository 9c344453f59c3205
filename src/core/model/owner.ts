import type * as z from "zod/mini";
import { CofferError, invalidInput } from "../errors/index.ts";
import { lazySchema } from "./zod-lazy.ts";

/** `user/<id>` and `project/<id>` ids: a letter or digit, then letters, digits, `.`, `_`, `-`; ≤ 64 chars. */
const OWNER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const OwnerId = lazySchema((z) =>
  z
    .string()
    .check(z.regex(OWNER_ID, "must be 1-64 chars of letters, digits, '.', '_', '-', starting with a letter or digit"))
    .brand<"OwnerId">(),
);
export type OwnerId = z.infer<typeof OwnerId>;

/** The schema's own check, without zod (parsing an owner is on `coffer run`'s path). */
export function isOwnerId(text: unknown): text is OwnerId {
  return typeof text === "string" && OWNER_ID.test(text);
}

export const OWNER_TYPES = ["user", "project", "system"] as const;
export type OwnerType = (typeof OWNER_TYPES)[number];

export type Owner =
  { readonly kind: "user"; readonly id: OwnerId } | { readonly kind: "project"; readonly id: OwnerId } | { readonly kind: "system" };

/** The id stored (and used in URL paths) for the system owner, so no column is ever NULL. */
export const SYSTEM_OWNER_ID = "_";

/**
 * Parses `user/<id>`, `project/<id>` or `system`.
 * @throws CofferError INVALID_INPUT naming `field` and the rule.
 */
export function parseOwner(text: string, field = "owner"): Owner {
  if (text === "system") return { kind: "system" };
  const slash = text.indexOf("/");
  const type = slash < 0 ? text : text.slice(0, slash);
  if (type !== "user" && type !== "project") {
    throw invalidInput(field, "must be 'user/<id>', 'project/<id>' or 'system'");
  }
  const id = text.slice(slash + 1);
  if (slash < 0 || !isOwnerId(id)) {
    throw invalidInput(field, "owner id must be 1-64 chars of letters, digits, '.', '_', '-', starting with a letter or digit");
  }
  return { kind: type, id };
}

/**
 * Builds an owner from its stored columns (`owner_type`, `owner_id`).
 * @throws CofferError STORE_CORRUPT when they are not an owner Coffer could have written
 * (the stored text is not quoted: it may be anything).
 */
export function ownerFromColumns(type: string, id: string): Owner {
  if (type === "system" && id === SYSTEM_OWNER_ID) return { kind: "system" };
  if ((type === "user" || type === "project") && isOwnerId(id)) return { kind: type, id };
  throw new CofferError("STORE_CORRUPT", "a stored owner (owner_type, owner_id) is not a valid owner", { column: "owner_type, owner_id" });
}

export function ownerType(owner: Owner): OwnerType {
  return owner.kind;
}

export function ownerIdColumn(owner: Owner): string {
  return owner.kind === "system" ? SYSTEM_OWNER_ID : owner.id;
}

export function formatOwner(owner: Owner): string {
  return owner.kind === "system" ? "system" : `${owner.kind}/${owner.id}`;
}

export function sameOwner(a: Owner, b: Owner): boolean {
  return a.kind === b.kind && ownerIdColumn(a) === ownerIdColumn(b);
}
