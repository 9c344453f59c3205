import type { Insertable, Selectable } from "kysely";
import type { OwnerColumns } from "./secret-repo.ts";
import { kysely } from "./kysely-lazy.ts";
import { selectRows } from "./sqlite-direct.ts";
import { SQLITE_SQL } from "./sqlite-sql.ts";
import type { Executor, InternalKeysTable, KeyringKeysTable, ScopeKeysTable } from "./schema.ts";
import { isPostgres } from "./store.ts";

/** Advisory lock ids (arbitrary constants, unique within Coffer). */
const INTERNAL_KEYS_LOCK = 7_300_002;

export type ScopeKeyRow = Selectable<ScopeKeysTable>;
export type KeyringKeyRow = Selectable<KeyringKeysTable>;
export type InternalKeyRow = Selectable<InternalKeysTable>;

export async function findActiveScopeKey(db: Executor, owner: OwnerColumns): Promise<ScopeKeyRow | null> {
  const row = await db
    .selectFrom("scope_keys")
    .selectAll()
    .where("owner_type", "=", owner.ownerType)
    .where("owner_id", "=", owner.ownerId)
    .where("state", "=", "active")
    .executeTakeFirst();
  return row ?? null;
}

/**
 * Is this scope key still the owner's active one? On PostgreSQL the row is share-locked until
 * the transaction ends, so an erase or rekey cannot remove it under a write that seals with it.
 */
export async function scopeKeyStillActive(db: Executor, id: string): Promise<boolean> {
  // On every write: built by Kysely once per dialect, then re-run with the new id.
  const pg = isPostgres(db);
  let text = stillActiveSql.get(pg);
  if (text === undefined) {
    const q = db.selectFrom("scope_keys").select("id").where("id", "=", "").where("state", "=", kysely().sql.lit("active"));
    text = (pg ? q.forShare() : q).compile().sql;
    stillActiveSql.set(pg, text);
  }
  return (await selectRows(db, text, [id])).length > 0;
}
const stillActiveSql = new Map<boolean, string>();

export async function findScopeKey(db: Executor, id: string): Promise<ScopeKeyRow | null> {
  if (!isPostgres(db)) return (await selectRows<ScopeKeyRow>(db, SQLITE_SQL.findScopeKey, [id]))[0] ?? null;
  return (await db.selectFrom("scope_keys").selectAll().where("id", "=", id).executeTakeFirst()) ?? null;
}

/** Every scope key row of an owner (active and retired), locked until the transaction ends (PostgreSQL). */
export async function lockOwnerScopeKeys(db: Executor, owner: OwnerColumns): Promise<ScopeKeyRow[]> {
  let q = db
    .selectFrom("scope_keys")
    .selectAll()
    .where("owner_type", "=", owner.ownerType)
    .where("owner_id", "=", owner.ownerId)
    .orderBy("id");
  if (isPostgres(db)) q = q.forUpdate();
  return q.execute();
}

export async function retireOwnerScopeKeys(db: Executor, owner: OwnerColumns): Promise<void> {
  await db
    .updateTable("scope_keys")
    .set({ state: "retired" })
    .where("owner_type", "=", owner.ownerType)
    .where("owner_id", "=", owner.ownerId)
    .execute();
}

/** Deletes scope keys by id (after every DEK they wrapped was rewrapped under another key). */
export async function deleteScopeKeys(db: Executor, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const r = await db
    .deleteFrom("scope_keys")
    .where("id", "in", [...ids])
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** Inserts an owner's active scope key unless it already has one; true when inserted. */
export async function insertActiveScopeKey(db: Executor, row: Insertable<ScopeKeysTable>): Promise<boolean> {
  const r = await db
    .insertInto("scope_keys")
    .values(row)
    .onConflict((oc) =>
      oc.columns(["owner_type", "owner_id"]).where(kysely().sql.ref("state"), "=", kysely().sql.lit("active")).doNothing(),
    )
    .executeTakeFirst();
  return (r.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

export async function listKeyringKeys(db: Executor): Promise<KeyringKeyRow[]> {
  if (!isPostgres(db)) return selectRows<KeyringKeyRow>(db, SQLITE_SQL.listKeyringKeys, []);
  return db.selectFrom("keyring_keys").selectAll().orderBy("created_at").execute();
}

/** The readiness probe (`/readyz`): one cheap read that fails when the database does not answer. */
export async function probe(db: Executor): Promise<void> {
  await db.selectFrom("keyring_keys").select("kid").limit(1).execute();
}

export async function insertKeyringKey(db: Executor, row: Insertable<KeyringKeysTable>): Promise<void> {
  await db
    .insertInto("keyring_keys")
    .values(row)
    .onConflict((oc) => oc.column("kid").doNothing())
    .execute();
}

/** Counts wraps per KEK, so status can show how far each key is from its nonce budget. */
export async function addWraps(db: Executor, kid: string, n: number): Promise<void> {
  await db
    .updateTable("keyring_keys")
    .set((eb) => ({ wrap_count: eb("wrap_count", "+", n) }))
    .where("kid", "=", kid)
    .execute();
}

export async function findInternalKey(db: Executor, purpose: string): Promise<InternalKeyRow | null> {
  if (!isPostgres(db)) return (await selectRows<InternalKeyRow>(db, SQLITE_SQL.findInternalKey, [purpose]))[0] ?? null;
  return (await db.selectFrom("internal_keys").selectAll().where("purpose", "=", purpose).executeTakeFirst()) ?? null;
}

export async function findInternalKeyById(db: Executor, id: string): Promise<InternalKeyRow | null> {
  return (await db.selectFrom("internal_keys").selectAll().where("id", "=", id).executeTakeFirst()) ?? null;
}

export async function insertInternalKey(db: Executor, row: Insertable<InternalKeysTable>): Promise<void> {
  await db.insertInto("internal_keys").values(row).execute();
}

/** Serialises internal-key creation across servers (PostgreSQL); SQLite's writer lock already does. */
export async function lockInternalKeys(db: Executor): Promise<void> {
  if (isPostgres(db)) await kysely().sql`SELECT pg_advisory_xact_lock(${INTERNAL_KEYS_LOCK})`.execute(db);
}

/** Records that `kid` became the active kid at `at` (a rotation to it, or a start that finds it active first). */
export async function markActivated(db: Executor, kid: string, at: string): Promise<void> {
  await db.updateTable("keyring_keys").set({ activated_at: at }).where("kid", "=", kid).execute();
}
