import type { Kysely } from "kysely";

/**
 * Integrity of mutable state (issue 10, points 4 and 5):
 * - `secrets.state_mac`: a keyed MAC over the row's identity and mutable state, so a writer of
 *   the database file cannot roll a secret back, undelete it or edit its metadata unseen. A
 *   migration has no key: rows that exist now stay NULL until the first open with the key
 *   MACs them once (see `secret-state.ts`); after that a NULL is refused.
 * - `secret_versions.hmac_key_id`: which (rotatable) internal key computed the version's
 *   plaintext HMAC in the existing `hmac` column.
 * - `integrity_marks`: MAC'd records kept outside the tables they protect: the audit chain's
 *   high-water mark (sequence numbers are never reused) and the state-MAC backfill marker.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("secrets").addColumn("state_mac", "blob").execute();
  await db.schema.alterTable("secret_versions").addColumn("hmac_key_id", "text").execute();
  await db.schema
    .createTable("integrity_marks")
    .addColumn("name", "text", (c) => c.primaryKey().notNull())
    .addColumn("seq", "integer", (c) => c.notNull())
    .addColumn("digest", "blob", (c) => c.notNull())
    .addColumn("key_id", "text", (c) => c.notNull())
    .addColumn("mac", "blob", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .execute();
}
