import { CompiledQuery, type Insertable, type Selectable, type Updateable } from "kysely";
import type { Executor, SecretVersionsTable, SecretsTable } from "./schema.ts";
import { isPostgres, ownerFilterSql, type OwnerFilter } from "./store.ts";

export type SecretRow = Selectable<SecretsTable>;
export type VersionRow = Selectable<SecretVersionsTable>;
export type OwnerColumns = { readonly ownerType: string; readonly ownerId: string };

/** The SQL of `findSecret` per dialect, built by Kysely once: its parameters are owner type, owner id, key name. */
const findSecretSql = new Map<boolean, string>();

/**
 * One secret's row by its unique key. The hottest read (every masked get), so its SQL is built
 * once per dialect and re-run with new parameters rather than rebuilt on every call.
 */
export async function findSecret(db: Executor, owner: OwnerColumns, keyName: string): Promise<SecretRow | null> {
  const pg = isPostgres(db);
  let text = findSecretSql.get(pg);
  if (text === undefined) {
    text = db
      .selectFrom("secrets")
      .selectAll()
      .where("owner_type", "=", "")
      .where("owner_id", "=", "")
      .where("key_name", "=", "")
      .compile().sql;
    findSecretSql.set(pg, text);
  }
  const r = await db.executeQuery<SecretRow>(CompiledQuery.raw(text, [owner.ownerType, owner.ownerId, keyName]));
  return r.rows[0] ?? null;
}

/**
 * Reads a secret's row and, on PostgreSQL, locks it until the transaction ends, so concurrent
 * writers of the same secret take turns (SQLite's BEGIN IMMEDIATE already serialises writers).
 */
export async function lockSecret(db: Executor, owner: OwnerColumns, keyName: string): Promise<SecretRow | null> {
  let q = db
    .selectFrom("secrets")
    .selectAll()
    .where("owner_type", "=", owner.ownerType)
    .where("owner_id", "=", owner.ownerId)
    .where("key_name", "=", keyName);
  if (isPostgres(db)) q = q.forUpdate();
  return (await q.executeTakeFirst()) ?? null;
}

/**
 * Creates the secret's row unless it exists. Two writers creating the same secret at once do
 * not fail: the second waits for the first and then does nothing.
 */
export async function insertSecretIfAbsent(db: Executor, row: Insertable<SecretsTable>): Promise<void> {
  await db
    .insertInto("secrets")
    .values(row)
    .onConflict((oc) => oc.columns(["owner_type", "owner_id", "key_name"]).doNothing())
    .execute();
}

export async function updateSecret(db: Executor, id: number, patch: Updateable<SecretsTable>): Promise<void> {
  await db.updateTable("secrets").set(patch).where("id", "=", id).execute();
}

export type ListFilter = {
  /** The caller's owners (from its actor, never from the request): always applied, every page. */
  readonly visible: OwnerFilter;
  readonly owner: OwnerColumns | null;
  readonly ownerType: string | null;
  readonly prefix: string;
  readonly includeDeleted: boolean;
  /** Cursor: return rows with id greater than this. */
  readonly afterId: number;
  readonly limit: number;
};

/**
 * Secrets in id order (stable for cursors); the prefix filter matches the start of the key name.
 * The cursor is only a position: which owners are returned comes from `visible` on every page.
 */
export async function listSecrets(db: Executor, f: ListFilter): Promise<SecretRow[]> {
  let q = db.selectFrom("secrets").selectAll().where("id", ">", f.afterId);
  if (f.visible !== null) q = q.where(ownerFilterSql(f.visible));
  if (f.owner !== null) q = q.where("owner_type", "=", f.owner.ownerType).where("owner_id", "=", f.owner.ownerId);
  if (f.ownerType !== null) q = q.where("owner_type", "=", f.ownerType);
  if (f.prefix !== "") q = q.where((eb) => eb(eb.fn("substr", ["key_name", eb.lit(1), eb.val(f.prefix.length)]), "=", f.prefix));
  if (!f.includeDeleted) q = q.where("deleted_at", "is", null);
  return q.orderBy("id").limit(f.limit).execute();
}

export async function insertVersion(db: Executor, row: Insertable<SecretVersionsTable>): Promise<void> {
  await db.insertInto("secret_versions").values(row).execute();
}

const findVersionSql = new Map<boolean, string>();

/** One version's row; its SQL is built once per dialect (every reveal reads it). */
export async function findVersion(db: Executor, secretId: number, version: number): Promise<VersionRow | null> {
  const pg = isPostgres(db);
  let text = findVersionSql.get(pg);
  if (text === undefined) {
    text = db.selectFrom("secret_versions").selectAll().where("secret_id", "=", 0).where("version", "=", 0).compile().sql;
    findVersionSql.set(pg, text);
  }
  const r = await db.executeQuery<VersionRow>(CompiledQuery.raw(text, [secretId, version]));
  return r.rows[0] ?? null;
}

export async function listVersions(db: Executor, secretId: number): Promise<VersionRow[]> {
  return db.selectFrom("secret_versions").selectAll().where("secret_id", "=", secretId).orderBy("version").execute();
}

export async function updateVersionCipher(
  db: Executor,
  key: { readonly secretId: number; readonly version: number },
  patch: Pick<Updateable<SecretVersionsTable>, "alg" | "nonce" | "ciphertext" | "wrapped_dek" | "scope_key_id">,
): Promise<void> {
  await db.updateTable("secret_versions").set(patch).where("secret_id", "=", key.secretId).where("version", "=", key.version).execute();
}

export type WrappedDekRow = {
  readonly secret_id: number;
  readonly version: number;
  readonly key_name: string;
  readonly wrapped_dek: Uint8Array;
  readonly scope_key_id: string;
};

/** Every stored version of an owner (deleted secrets and destroyed versions too): what a rekey rewraps. */
export async function listOwnerWrappedDeks(db: Executor, owner: OwnerColumns): Promise<WrappedDekRow[]> {
  return db
    .selectFrom("secret_versions as v")
    .innerJoin("secrets as s", "s.id", "v.secret_id")
    .select(["v.secret_id", "v.version", "s.key_name", "v.wrapped_dek", "v.scope_key_id"])
    .where("s.owner_type", "=", owner.ownerType)
    .where("s.owner_id", "=", owner.ownerId)
    .orderBy("v.secret_id")
    .orderBy("v.version")
    .execute();
}

/** The SQL of `updateWrappedDek` per dialect; parameters: wrapped_dek, scope_key_id, secret_id, version. */
const updateWrappedDekSql = new Map<boolean, string>();

/** Runs once per version in a rekey, so its SQL is built once per dialect and re-run. */
export async function updateWrappedDek(
  db: Executor,
  key: { readonly secretId: number; readonly version: number },
  patch: { readonly wrapped_dek: Uint8Array; readonly scope_key_id: string },
): Promise<void> {
  const pg = isPostgres(db);
  let text = updateWrappedDekSql.get(pg);
  if (text === undefined) {
    text = db
      .updateTable("secret_versions")
      .set({ wrapped_dek: new Uint8Array(0), scope_key_id: "" })
      .where("secret_id", "=", 0)
      .where("version", "=", 0)
      .compile().sql;
    updateWrappedDekSql.set(pg, text);
  }
  await db.executeQuery(CompiledQuery.raw(text, [patch.wrapped_dek, patch.scope_key_id, key.secretId, key.version]));
}

/** Current, non-deleted versions of an owner's secrets (with a name prefix), joined for decryption. */
export async function listCurrentVersions(
  db: Executor,
  owner: OwnerColumns,
  prefix: string,
): Promise<(VersionRow & { readonly key_name: string; readonly meta: string })[]> {
  let q = db
    .selectFrom("secrets as s")
    .innerJoin("secret_versions as v", (j) => j.onRef("v.secret_id", "=", "s.id").onRef("v.version", "=", "s.current_version"))
    .selectAll("v")
    .select(["s.key_name", "s.meta"])
    .where("s.owner_type", "=", owner.ownerType)
    .where("s.owner_id", "=", owner.ownerId)
    .where("s.deleted_at", "is", null);
  if (prefix !== "") q = q.where((eb) => eb(eb.fn("substr", ["s.key_name", eb.lit(1), eb.val(prefix.length)]), "=", prefix));
  return q.orderBy("s.key_name").execute();
}
