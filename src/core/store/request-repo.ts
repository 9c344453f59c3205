import type { Insertable, Selectable } from "kysely";
import { kysely } from "./kysely-lazy.ts";
import type { Executor, IdempotencyKeysTable } from "./schema.ts";

export type IdempotencyRow = Selectable<IdempotencyKeysTable>;

export async function findIdempotencyKey(db: Executor, tokenId: string, key: string): Promise<IdempotencyRow | null> {
  return (
    (await db.selectFrom("idempotency_keys").selectAll().where("token_id", "=", tokenId).where("idem_key", "=", key).executeTakeFirst()) ??
    null
  );
}

/** Inserts inside the write's own transaction: a concurrent duplicate fails on the primary key. */
export async function insertIdempotencyKey(db: Executor, row: Insertable<IdempotencyKeysTable>): Promise<void> {
  await db.insertInto("idempotency_keys").values(row).execute();
}

export async function deleteIdempotencyKeysBefore(db: Executor, before: string): Promise<number> {
  const r = await db.deleteFrom("idempotency_keys").where("created_at", "<", before).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/**
 * Counts one hit in `bucket`'s fixed window (`windowStart`, in seconds since the epoch) in one
 * atomic statement, so several servers on one database share the count. Returns the count in
 * the current window including this hit.
 */
export async function hitRateLimit(db: Executor, bucket: string, windowStart: number): Promise<{ count: number; windowStart: number }> {
  const r = await kysely().sql<{ count: number | string; window_start: number | string }>`
    INSERT INTO rate_limits (bucket, window_start, count) VALUES (${bucket}, ${windowStart}, 1)
    ON CONFLICT (bucket) DO UPDATE SET
      count = CASE WHEN rate_limits.window_start >= excluded.window_start THEN rate_limits.count + 1 ELSE 1 END,
      window_start = CASE WHEN rate_limits.window_start >= excluded.window_start THEN rate_limits.window_start ELSE excluded.window_start END
    RETURNING count, window_start`.execute(db);
  const row = r.rows[0];
  return { count: Number(row?.count ?? 1), windowStart: Number(row?.window_start ?? windowStart) };
}

/** The count held in `bucket` (without counting a hit), or null when it has none. */
export async function peekRateLimit(db: Executor, bucket: string): Promise<{ count: number; windowStart: number } | null> {
  const row = await db.selectFrom("rate_limits").select(["count", "window_start"]).where("bucket", "=", bucket).executeTakeFirst();
  return row === undefined ? null : { count: row.count, windowStart: row.window_start };
}

export async function deleteRateLimitsBefore(db: Executor, windowStart: number): Promise<void> {
  await db.deleteFrom("rate_limits").where("window_start", "<", windowStart).execute();
}
