import { sql, type Kysely } from "kysely";

/**
 * The first released schema on PostgreSQL: the same tables, columns and constraints as the
 * SQLite migration of the same name, with PostgreSQL types (bytea, jsonb, timestamptz, bigint),
 * plus the application role and row-level security. Never edit: add a new migration instead.
 *
 * Row-level security (enabled and FORCED, so the table owner is subject to it too) admits a
 * row only when its owner matches the transaction-local setting `coffer.owners` (LIKE
 * patterns, comma-separated) or `coffer.all_owners` is `on` (the explicit admin path). The
 * application switches to the role `coffer_app` (not the owner, no BYPASSRLS) on every
 * connection; with no setting, it sees no tenant row at all.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("secrets")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedByDefaultAsIdentity())
    .addColumn("owner_type", "text", (c) => c.notNull())
    .addColumn("owner_id", "text", (c) => c.notNull())
    .addColumn("key_name", "text", (c) => c.notNull())
    .addColumn("current_version", "integer", (c) => c.notNull())
    .addColumn("meta", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .addColumn("last_rotated_at", "timestamptz")
    .addColumn("deleted_at", "timestamptz")
    .addUniqueConstraint("secrets_owner_key_unique", ["owner_type", "owner_id", "key_name"])
    .execute();
  await db.schema.createIndex("secrets_owner_idx").on("secrets").columns(["owner_type", "owner_id"]).execute();

  await db.schema
    .createTable("secret_versions")
    .addColumn("secret_id", "bigint", (c) => c.notNull().references("secrets.id"))
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("alg", "text", (c) => c.notNull())
    .addColumn("nonce", "bytea", (c) => c.notNull())
    .addColumn("ciphertext", "bytea", (c) => c.notNull())
    .addColumn("wrapped_dek", "bytea", (c) => c.notNull())
    .addColumn("scope_key_id", "text", (c) => c.notNull())
    .addColumn("hmac", "bytea")
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("destroyed_at", "timestamptz")
    .addPrimaryKeyConstraint("secret_versions_pk", ["secret_id", "version"])
    .execute();

  await db.schema
    .createTable("scope_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("owner_type", "text", (c) => c.notNull())
    .addColumn("owner_id", "text", (c) => c.notNull())
    .addColumn("kid", "text", (c) => c.notNull())
    .addColumn("wrapped_key", "bytea", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("rewrapped_at", "timestamptz")
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
    .addColumn("kid", "text", (c) => c.primaryKey())
    .addColumn("provider", "text", (c) => c.notNull())
    .addColumn("fingerprint", "text", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .addColumn("activated_at", "timestamptz")
    .addColumn("retired_at", "timestamptz")
    .addColumn("wrap_count", "bigint", (c) => c.notNull().defaultTo(0))
    .execute();

  await db.schema
    .createTable("internal_keys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("purpose", "text", (c) => c.notNull())
    .addColumn("kid", "text", (c) => c.notNull())
    .addColumn("wrapped_key", "bytea", (c) => c.notNull())
    .addColumn("created_at", "timestamptz", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("audit_events")
    .addColumn("seq", "bigint", (c) => c.primaryKey())
    .addColumn("at", "timestamptz", (c) => c.notNull())
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
    .addColumn("details", "jsonb", (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn("mac_key_id", "text", (c) => c.notNull())
    .addColumn("prev_mac", "bytea", (c) => c.notNull())
    .addColumn("mac", "bytea", (c) => c.notNull())
    .execute();

  // Roles are per server, databases per role: several databases migrating at once race to
  // create it, so a concurrent creation is not an error.
  await sql`
    DO $$ BEGIN
      CREATE ROLE coffer_app NOLOGIN NOBYPASSRLS;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END $$`.execute(db);
  await sql`GRANT coffer_app TO CURRENT_USER`.execute(db);
  await sql`
    CREATE FUNCTION coffer_owner_visible(owner_type text, owner_id text) RETURNS boolean
    LANGUAGE sql STABLE AS $$
      SELECT coalesce(current_setting('coffer.all_owners', true), '') = 'on'
          OR (owner_type || '/' || owner_id) LIKE ANY (string_to_array(nullif(current_setting('coffer.owners', true), ''), ','))
    $$`.execute(db);
  for (const table of ["secrets", "scope_keys", "secret_versions"]) {
    await sql`ALTER TABLE ${sql.table(table)} ENABLE ROW LEVEL SECURITY`.execute(db);
    await sql`ALTER TABLE ${sql.table(table)} FORCE ROW LEVEL SECURITY`.execute(db);
  }
  await sql`CREATE POLICY secrets_by_owner ON secrets USING (coffer_owner_visible(owner_type, owner_id)) WITH CHECK (coffer_owner_visible(owner_type, owner_id))`.execute(
    db,
  );
  await sql`CREATE POLICY scope_keys_by_owner ON scope_keys USING (coffer_owner_visible(owner_type, owner_id)) WITH CHECK (coffer_owner_visible(owner_type, owner_id))`.execute(
    db,
  );
  await sql`CREATE POLICY secret_versions_by_owner ON secret_versions
    USING (EXISTS (SELECT 1 FROM secrets s WHERE s.id = secret_id))
    WITH CHECK (EXISTS (SELECT 1 FROM secrets s WHERE s.id = secret_id))`.execute(db);
  await sql`GRANT SELECT, INSERT, UPDATE, DELETE ON secrets, secret_versions, scope_keys, keyring_keys, internal_keys TO coffer_app`.execute(
    db,
  );
  // The audit log is append-only for the application: no UPDATE, no DELETE.
  await sql`GRANT SELECT, INSERT ON audit_events TO coffer_app`.execute(db);
  await sql`GRANT SELECT ON coffer_migration TO coffer_app`.execute(db);
}
