import { sql, type Kysely } from "kysely";

/**
 * Integrity of mutable state; the same columns and table as the SQLite migration of the same
 * name (see there for why), with PostgreSQL types. `integrity_marks` is not a tenant table (no
 * row-level security); the application may read, insert and update it, never delete from it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("secrets").addColumn("state_mac", "bytea").execute();
  await db.schema.alterTable("secret_versions").addColumn("hmac_key_id", "text").execute();
  await db.schema
    .createTable("integrity_marks")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("seq", "bigint", (c) => c.notNull())
    .addColumn("digest", "bytea", (c) => c.notNull())
    .addColumn("key_id", "text", (c) => c.notNull())
    .addColumn("mac", "bytea", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .execute();
  await sql`GRANT SELECT, INSERT, UPDATE ON integrity_marks TO coffer_app`.execute(db);
}
