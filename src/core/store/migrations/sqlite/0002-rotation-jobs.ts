import type { Kysely } from "kysely";

/** Background KEK rotation jobs (DESIGN §4): from/to kid, a resumable cursor, counts, state. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("rotation_jobs")
    .addColumn("id", "text", (c) => c.primaryKey().notNull())
    .addColumn("from_kid", "text")
    .addColumn("to_kid", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("cursor", "text")
    .addColumn("total", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("done", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("started_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addColumn("finished_at", "text")
    .addColumn("error_code", "text")
    .execute();
  await db.schema.createIndex("rotation_jobs_state_idx").on("rotation_jobs").column("state").execute();
}
