import type { Insertable, Selectable } from "kysely";
import type { Executor, ShareLinksTable, TokensTable } from "./schema.ts";

export type TokenRow = Selectable<TokensTable>;
export type ShareLinkRow = Selectable<ShareLinksTable>;

export async function insertToken(db: Executor, row: Insertable<TokensTable>): Promise<void> {
  await db.insertInto("tokens").values(row).execute();
}

export async function findTokenByHash(db: Executor, tokenHash: string): Promise<TokenRow | null> {
  return (await db.selectFrom("tokens").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst()) ?? null;
}

export async function findToken(db: Executor, id: string): Promise<TokenRow | null> {
  return (await db.selectFrom("tokens").selectAll().where("id", "=", id).executeTakeFirst()) ?? null;
}

export async function listTokens(db: Executor): Promise<TokenRow[]> {
  return db.selectFrom("tokens").selectAll().orderBy("created_at").orderBy("id").execute();
}

export async function countTokens(db: Executor): Promise<number> {
  const r = await db
    .selectFrom("tokens")
    .select((eb) => eb.fn.countAll<number | string>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Marks a token revoked; returns false when it was already revoked or does not exist. */
export async function revokeToken(db: Executor, id: string, at: string): Promise<boolean> {
  const r = await db.updateTable("tokens").set({ revoked_at: at }).where("id", "=", id).where("revoked_at", "is", null).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function touchToken(db: Executor, id: string, at: string): Promise<void> {
  await db.updateTable("tokens").set({ last_used_at: at }).where("id", "=", id).execute();
}

export async function insertShareLink(db: Executor, row: Insertable<ShareLinksTable>): Promise<void> {
  await db.insertInto("share_links").values(row).execute();
}

export async function findShareLinkByHash(db: Executor, tokenHash: string): Promise<ShareLinkRow | null> {
  return (await db.selectFrom("share_links").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst()) ?? null;
}

/**
 * Burns a one-time link: sets `used_at` only if it is still unused and unexpired, so of any
 * number of concurrent redeemers exactly one sees `true`.
 */
export async function burnShareLink(db: Executor, id: string, at: string): Promise<boolean> {
  const r = await db
    .updateTable("share_links")
    .set({ used_at: at })
    .where("id", "=", id)
    .where("used_at", "is", null)
    .where("expires_at", ">", at)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
