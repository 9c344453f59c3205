import { sql, type Kysely } from "kysely";

/** Background KEK rotation jobs (DESIGN §4): from/to kid, a resumable cursor, counts, state. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("rotation_jobs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("from_kid", "text")
    .addColumn("to_kid", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("cursor", "text")
    .addColumn("total", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("done", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("started_at", "timestamptz", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .addColumn("finished_at", "timestamptz")
    .addColumn("error_code", "text")
    .execute();
  await db.schema.createIndex("rotation_jobs_state_idx").on("rotation_jobs").column("state").execute();
  await sql`GRANT SELECT, INSERT, UPDATE, DELETE ON rotation_jobs TO coffer_app`.execute(db);
}
