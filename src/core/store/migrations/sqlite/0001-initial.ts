import { sql, type Kysely } from "kysely";

/** The first released schema. Never edit: add a new migration instead. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("secrets")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("owner_type", "text", (c) => c.notNull())
    .addColumn("owner_id", "text", (c) => c.notNull())
    .addColumn("key_name", "text", (c) => c.notNull())
    .addColumn("current_version", "integer", (c) => c.notNull())
    .addColumn("meta", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addColumn("last_rotated_at", "text")
    .addColumn("deleted_at", "text")
    .addUniqueConstraint("secrets_owner_key_unique", ["owner_type", "owner_id", "key_name"])
    .execute();
  await db.schema.createIndex("secrets_owner_idx").on("secrets").columns(["owner_type", "owner_id"]).execute();

  await db.schema
    .createTable("secret_versions")
    .addColumn("secret_id", "integer", (c) => c.notNull().references("secrets.id"))
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("alg", "text", (c) => c.notNull())
    .addColumn("nonce", "blob", (c) => c.notNull())
    .addColumn("ciphertext", "blob", (c) => c.notNull())
    .addColumn("wrapped_dek", "blob", (c) => c.notNull())
    .addColumn("scope_key_id", "text", (c) => c.notNull())
    .addColumn("hmac", "blob")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("destroyed_at", "text")
    .addPrimaryKeyConstraint("secret_versions_pk", ["secret_id", "version"])
    .execute();

  await db.schema
    .createTable("scope_keys")
    .addColumn("id", "text", (c) => c.primaryKey().notNull())
    .addColumn("owner_type", "text", (c) => c.notNull())
    .addColumn("owner_id", "text", (c) => c.notNull())
    .addColumn("kid", "text", (c) => c.notNull())
    .addColumn("wrapped_key", "blob", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("rewrapped_at", "text")
    .execute();
  await db.schema
    .createIndex("scope_keys_one_active_per_owner")
    .on("scope_keys")
    .columns(["owner_type", "owner_id"])
    .unique()
    .where(sql.ref("state"), "=", "active")
    .execute();

  await db.schema
    .createTable("keyring_keys")
    .addColumn("kid", "text", (c) => c.primaryKey().notNull())
    .addColumn("provider", "text", (c) => c.notNull())
    .addColumn("fingerprint", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("activated_at", "text")
    .addColumn("retired_at", "text")
    .addColumn("wrap_count", "integer", (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema
    .createTable("internal_keys")
    .addColumn("id", "text", (c) => c.primaryKey().notNull())
    .addColumn("purpose", "text", (c) => c.notNull())
    .addColumn("kid", "text", (c) => c.notNull())
    .addColumn("wrapped_key", "blob", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("audit_events")
    .addColumn("seq", "integer", (c) => c.primaryKey())
    .addColumn("at", "text", (c) => c.notNull())
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("owner_type", "text")
    .addColumn("owner_id", "text")
    .addColumn("key_name", "text")
    .addColumn("version", "integer")
    .addColumn("outcome", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("request_id", "text")
    .addColumn("client_addr", "text")
    .addColumn("details", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("mac_key_id", "text", (c) => c.notNull())
    .addColumn("prev_mac", "blob", (c) => c.notNull())
    .addColumn("mac", "blob", (c) => c.notNull())
    .execute();
  // Append-only at the database level too: an UPDATE or DELETE of an audit row aborts.
  await sql`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`.execute(
    db,
  );
  await sql`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`.execute(
    db,
  );
}
