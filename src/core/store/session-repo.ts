import type { ConsoleSessionsTable, Executor } from "./schema.ts";

export type SessionRow = ConsoleSessionsTable;

export async function insertSession(db: Executor, row: SessionRow): Promise<void> {
  await db.insertInto("console_sessions").values(row).execute();
}

export async function findSession(db: Executor, idHash: string): Promise<SessionRow | null> {
  return (await db.selectFrom("console_sessions").selectAll().where("id_hash", "=", idHash).executeTakeFirst()) ?? null;
}

export async function touchSession(db: Executor, idHash: string, at: string): Promise<void> {
  await db.updateTable("console_sessions").set({ last_seen_at: at }).where("id_hash", "=", idHash).execute();
}

export async function reauthenticateSession(db: Executor, idHash: string, at: string): Promise<void> {
  await db.updateTable("console_sessions").set({ authenticated_at: at, last_seen_at: at }).where("id_hash", "=", idHash).execute();
}

/** True when a row was deleted (the session existed). */
export async function deleteSession(db: Executor, idHash: string): Promise<boolean> {
  const r = await db.deleteFrom("console_sessions").where("id_hash", "=", idHash).executeTakeFirst();
  return r.numDeletedRows > 0n;
}

/** Drops sessions past their absolute end or idle since before `idleBefore`. */
export async function deleteExpiredSessions(db: Executor, now: string, idleBefore: string): Promise<void> {
  await db
    .deleteFrom("console_sessions")
    .where((eb) => eb.or([eb("expires_at", "<=", now), eb("last_seen_at", "<", idleBefore)]))
    .execute();
}
