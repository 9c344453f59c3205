import { sql, type Kysely } from "kysely";

/**
 * Leases: a named, expiring claim one server holds on a job only one server may run at a time
 * (the automatic KEK rotation). A crashed holder's lease simply expires.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("leases")
    .addColumn("name", "text", (c) => c.primaryKey().notNull())
    .addColumn("holder", "text", (c) => c.notNull())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .execute();
  await sql`GRANT SELECT, INSERT, UPDATE, DELETE ON leases TO coffer_app`.execute(db);
}
