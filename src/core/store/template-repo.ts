import type { Selectable } from "kysely";
import type { Executor, TemplatesTable } from "./schema.ts";
import type { OwnerColumns } from "./secret-repo.ts";

export type TemplateRow = Selectable<TemplatesTable>;

export async function findTemplate(db: Executor, owner: OwnerColumns, name: string): Promise<TemplateRow | null> {
  return (
    (await db
      .selectFrom("templates")
      .selectAll()
      .where("owner_type", "=", owner.ownerType)
      .where("owner_id", "=", owner.ownerId)
      .where("name", "=", name)
      .executeTakeFirst()) ?? null
  );
}

/** Creates or replaces a template; `created_at` is kept on replace. */
export async function upsertTemplate(db: Executor, row: TemplateRow): Promise<void> {
  await db
    .insertInto("templates")
    .values(row)
    .onConflict((oc) =>
      oc
        .columns(["owner_type", "owner_id", "name"])
        .doUpdateSet({ body: row.body, updated_at: row.updated_at, updated_by: row.updated_by }),
    )
    .execute();
}

/** @returns whether a row was deleted. */
export async function deleteTemplate(db: Executor, owner: OwnerColumns, name: string): Promise<boolean> {
  const r = await db
    .deleteFrom("templates")
    .where("owner_type", "=", owner.ownerType)
    .where("owner_id", "=", owner.ownerId)
    .where("name", "=", name)
    .executeTakeFirst();
  return r.numDeletedRows > 0n;
}

/** One owner's templates, by name, without their text. */
export async function listTemplates(db: Executor, owner: OwnerColumns): Promise<Omit<TemplateRow, "body">[]> {
  return db
    .selectFrom("templates")
    .select(["owner_type", "owner_id", "name", "created_at", "updated_at", "updated_by"])
    .where("owner_type", "=", owner.ownerType)
    .where("owner_id", "=", owner.ownerId)
    .orderBy("name")
    .execute();
}
