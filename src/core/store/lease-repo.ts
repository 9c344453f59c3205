import type { Executor } from "./schema.ts";

/**
 * Takes the lease `name` for `holder` until `until`, when it is free, expired or already
 * `holder`'s; true when taken. One statement (an upsert guarded by the expiry), so two
 * servers racing for it cannot both win.
 */
export async function tryAcquire(db: Executor, name: string, holder: string, now: string, until: string): Promise<boolean> {
  const r = await db
    .insertInto("leases")
    .values({ name, holder, expires_at: until })
    .onConflict((oc) =>
      oc
        .column("name")
        .doUpdateSet({ holder, expires_at: until })
        .where((eb) => eb.or([eb("leases.expires_at", "<=", now), eb("leases.holder", "=", holder)])),
    )
    .executeTakeFirst();
  return (r.numInsertedOrUpdatedRows ?? 0n) > 0n;
}

/** Gives the lease back (only `holder`'s own). */
export async function release(db: Executor, name: string, holder: string): Promise<void> {
  await db.deleteFrom("leases").where("name", "=", name).where("holder", "=", holder).execute();
}
