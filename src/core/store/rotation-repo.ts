import type { Insertable, Selectable } from "kysely";
import type { Executor, RotationJobsTable } from "./schema.ts";
import type { InternalKeyRow, ScopeKeyRow } from "./key-repo.ts";
import { isPostgres } from "./store.ts";

export type RotationJobRow = Selectable<RotationJobsTable>;

/** Scope keys not yet wrapped by `kid`, a batch at a time, locked until the transaction ends (PostgreSQL). */
export async function scopeKeysNotUnder(db: Executor, kid: string, limit: number): Promise<ScopeKeyRow[]> {
  let q = db.selectFrom("scope_keys").selectAll().where("kid", "<>", kid).orderBy("id").limit(limit);
  if (isPostgres(db)) q = q.forUpdate().skipLocked();
  return q.execute();
}

export async function internalKeysNotUnder(db: Executor, kid: string): Promise<InternalKeyRow[]> {
  let q = db.selectFrom("internal_keys").selectAll().where("kid", "<>", kid).orderBy("id");
  if (isPostgres(db)) q = q.forUpdate();
  return q.execute();
}

export async function rewrapScopeKeyRow(
  db: Executor,
  id: string,
  patch: { kid: string; wrapped_key: Uint8Array; rewrapped_at: string },
): Promise<void> {
  await db.updateTable("scope_keys").set(patch).where("id", "=", id).execute();
}

export async function rewrapInternalKeyRow(db: Executor, id: string, patch: { kid: string; wrapped_key: Uint8Array }): Promise<void> {
  await db.updateTable("internal_keys").set(patch).where("id", "=", id).execute();
}

/** How many keys each wrapped by `kid` still depend on it. */
export async function dependentsOf(db: Executor, kid: string): Promise<{ scopeKeys: number; internalKeys: number }> {
  const s = await db
    .selectFrom("scope_keys")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("kid", "=", kid)
    .executeTakeFirstOrThrow();
  const i = await db
    .selectFrom("internal_keys")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("kid", "=", kid)
    .executeTakeFirstOrThrow();
  return { scopeKeys: s.n, internalKeys: i.n };
}

export async function countNotUnder(db: Executor, kid: string): Promise<number> {
  const s = await db
    .selectFrom("scope_keys")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("kid", "<>", kid)
    .executeTakeFirstOrThrow();
  const i = await db
    .selectFrom("internal_keys")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("kid", "<>", kid)
    .executeTakeFirstOrThrow();
  return s.n + i.n;
}

export async function retireKid(db: Executor, kid: string, at: string): Promise<void> {
  await db.updateTable("keyring_keys").set({ retired_at: at }).where("kid", "=", kid).execute();
}

export async function runningJob(db: Executor, toKid: string): Promise<RotationJobRow | null> {
  return (
    (await db.selectFrom("rotation_jobs").selectAll().where("to_kid", "=", toKid).where("state", "=", "running").executeTakeFirst()) ?? null
  );
}

export async function insertJob(db: Executor, row: Insertable<RotationJobsTable>): Promise<void> {
  await db.insertInto("rotation_jobs").values(row).execute();
}

export async function updateJob(db: Executor, id: string, patch: Partial<Omit<RotationJobRow, "id">>): Promise<void> {
  await db.updateTable("rotation_jobs").set(patch).where("id", "=", id).execute();
}

/** Any running job, newest first: one left running toward a kid that is not active yet is an interrupted activation. */
export async function anyRunningJob(db: Executor): Promise<RotationJobRow | null> {
  return (
    (await db.selectFrom("rotation_jobs").selectAll().where("state", "=", "running").orderBy("started_at", "desc").executeTakeFirst()) ??
    null
  );
}
