import type { Kysely } from "kysely";

/**
 * Admin-console sessions (docs/console.md): kept server-side so every server on one database
 * honours them and sign-out ends them everywhere. Only a SHA-256 of the session id is stored;
 * times are ISO-8601 text (they compare as text).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("console_sessions")
    .addColumn("id_hash", "text", (c) => c.primaryKey().notNull())
    .addColumn("token_id", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("last_seen_at", "text", (c) => c.notNull())
    .addColumn("authenticated_at", "text", (c) => c.notNull())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("console_sessions_token").on("console_sessions").column("token_id").execute();
}
