import { sql, type Kysely } from "kysely";

/**
 * Stored templates (DESIGN §6b): per owner, the template text only, never a secret's value.
 * Row-level security like every tenant table: a request sees only its owners' templates.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("templates")
    .addColumn("owner_type", "text", (c) => c.notNull())
    .addColumn("owner_id", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("body", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .addColumn("updated_by", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("templates_pk", ["owner_type", "owner_id", "name"])
    .execute();
  await sql`ALTER TABLE templates ENABLE ROW LEVEL SECURITY`.execute(db);
  await sql`ALTER TABLE templates FORCE ROW LEVEL SECURITY`.execute(db);
  await sql`CREATE POLICY templates_by_owner ON templates USING (coffer_owner_visible(owner_type, owner_id)) WITH CHECK (coffer_owner_visible(owner_type, owner_id))`.execute(
    db,
  );
  await sql`GRANT SELECT, INSERT, UPDATE, DELETE ON templates TO coffer_app`.execute(db);
}
