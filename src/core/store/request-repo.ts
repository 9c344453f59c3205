import type { Insertable, Selectable } from "kysely";
import { kysely } from "./kysely-lazy.ts";
import { definedColumns, prebuiltSql } from "./prebuilt.ts";
import type { Executor, IdempotencyKeysTable } from "./schema.ts";
import { runStatement, selectRows } from "./sqlite-direct.ts";

export type IdempotencyRow = Selectable<IdempotencyKeysTable>;

/** Every write with an `Idempotency-Key` runs these two: their SQL is built once per dialect. */
export async function findIdempotencyKey(db: Executor, tokenId: string, key: string): Promise<IdempotencyRow | null> {
  const params = [tokenId, key];
  const text = prebuiltSql(db, "findIdempotencyKey", params, () =>
    db.selectFrom("idempotency_keys").selectAll().where("token_id", "=", tokenId).where("idem_key", "=", key).compile(),
  );
  return (await selectRows<IdempotencyRow>(db, text, params))[0] ?? null;
}

/** Inserts inside the write's own transaction: a concurrent duplicate fails on the primary key. */
export async function insertIdempotencyKey(db: Executor, row: Insertable<IdempotencyKeysTable>): Promise<void> {
  const columns = definedColumns(row);
  const params = columns.map((c) => row[c]);
  const text = prebuiltSql(db, `insertIdempotencyKey:${columns.join(",")}`, params, () =>
    db.insertInto("idempotency_keys").values(row).compile(),
  );
  await runStatement(db, text, params);
}

export async function deleteIdempotencyKeysBefore(db: Executor, before: string): Promise<number> {
  const r = await db.deleteFrom("idempotency_keys").where("created_at", "<", before).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/**
 * Counts `hits` hits (one by default) in `bucket`'s fixed window (`windowStart`, in seconds since
 * the epoch) in one atomic statement, so several servers on one database share the count.
 * Returns the count in the current window including these hits.
 */
export async function hitRateLimit(
  db: Executor,
  bucket: string,
  windowStart: number,
  hits = 1,
): Promise<{ count: number; windowStart: number }> {
  // Every rate-limited request runs this: its SQL is built once per dialect.
  const params = [bucket, windowStart, hits];
  const text = prebuiltSql(db, "hitRateLimit", params, () =>
    kysely().sql`
    INSERT INTO rate_limits (bucket, window_start, count) VALUES (${bucket}, ${windowStart}, ${hits})
    ON CONFLICT (bucket) DO UPDATE SET
      count = CASE WHEN rate_limits.window_start >= excluded.window_start THEN rate_limits.count + excluded.count ELSE excluded.count END,
      window_start = CASE WHEN rate_limits.window_start >= excluded.window_start THEN rate_limits.window_start ELSE excluded.window_start END
    RETURNING count, window_start`.compile(db),
  );
  const row = (await selectRows<{ count: number | string; window_start: number | string }>(db, text, params))[0];
  return { count: Number(row?.count ?? hits), windowStart: Number(row?.window_start ?? windowStart) };
}

/** The count held in `bucket` (without counting a hit), or null when it has none. */
export async function peekRateLimit(db: Executor, bucket: string): Promise<{ count: number; windowStart: number } | null> {
  const row = await db.selectFrom("rate_limits").select(["count", "window_start"]).where("bucket", "=", bucket).executeTakeFirst();
  return row === undefined ? null : { count: row.count, windowStart: row.window_start };
}

export async function deleteRateLimitsBefore(db: Executor, windowStart: number): Promise<void> {
  await db.deleteFrom("rate_limits").where("window_start", "<", windowStart).execute();
}
