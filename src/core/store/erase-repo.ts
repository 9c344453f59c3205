import type { Executor } from "./schema.ts";
import { isPostgres } from "./store.ts";
import type { OwnerColumns } from "./secret-repo.ts";

/** What crypto-erase needs of a scope key: which kid wrapped it, and whether it was rewrapped. */
export type ErasedScopeKeyRow = { readonly id: string; readonly kid: string; readonly rewrapped_at: string | null };

export type ErasedCounts = { readonly secrets: number; readonly versions: number; readonly scopeKeys: number };

/**
 * Every scope key row of an owner, active and retired, locked (PostgreSQL) until the erase
 * commits: a concurrent write holds a share lock on the key it seals with, so it either
 * commits before the erase (and is erased with it) or finds the key gone and takes a new one.
 */
export async function listOwnerScopeKeys(db: Executor, owner: OwnerColumns): Promise<ErasedScopeKeyRow[]> {
  let q = db
    .selectFrom("scope_keys")
    .select(["id", "kid", "rewrapped_at"])
    .where("owner_type", "=", owner.ownerType)
    .where("owner_id", "=", owner.ownerId)
    .orderBy("id");
  if (isPostgres(db)) q = q.forUpdate();
  return q.execute();
}

/**
 * Deletes every secret version, secret (deleted ones too) and scope key of an owner, in that
 * order: versions first, since they reference their secret (and on PostgreSQL are visible
 * only through it). Returns how many rows of each went.
 */
export async function deleteOwnerRows(db: Executor, owner: OwnerColumns): Promise<ErasedCounts> {
  const ownerSecrets = db
    .selectFrom("secrets")
    .select("id")
    .where("owner_type", "=", owner.ownerType)
    .where("owner_id", "=", owner.ownerId);
  const versions = await db.deleteFrom("secret_versions").where("secret_id", "in", ownerSecrets).executeTakeFirst();
  const secrets = await db
    .deleteFrom("secrets")
    .where("owner_type", "=", owner.ownerType)
    .where("owner_id", "=", owner.ownerId)
    .executeTakeFirst();
  const scopeKeys = await db
    .deleteFrom("scope_keys")
    .where("owner_type", "=", owner.ownerType)
    .where("owner_id", "=", owner.ownerId)
    .executeTakeFirst();
  return {
    secrets: Number(secrets.numDeletedRows),
    versions: Number(versions.numDeletedRows),
    scopeKeys: Number(scopeKeys.numDeletedRows),
  };
}
