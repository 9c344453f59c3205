import { ownerFilterSql, type OwnerFilter } from "./store.ts";
import type { Executor } from "./schema.ts";

export type OwnerCountRow = { readonly owner_type: string; readonly owner_id: string; readonly secrets: number };

/** Owners with at least one live secret, and how many, limited to `visible` (null: every owner). */
export async function listOwnerCounts(db: Executor, visible: OwnerFilter, limit: number): Promise<OwnerCountRow[]> {
  let q = db
    .selectFrom("secrets")
    .select((eb) => ["owner_type", "owner_id", eb.fn.countAll<number | string | bigint>().as("secrets")])
    .where("deleted_at", "is", null);
  if (visible !== null) q = q.where(ownerFilterSql(visible));
  const rows = await q.groupBy(["owner_type", "owner_id"]).orderBy("owner_type").orderBy("owner_id").limit(limit).execute();
  return rows.map((r) => ({ owner_type: r.owner_type, owner_id: r.owner_id, secrets: Number(r.secrets) }));
}
