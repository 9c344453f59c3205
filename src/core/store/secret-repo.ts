import type { Insertable, Selectable, Updateable } from "kysely";
import type { Executor, SecretVersionsTable, SecretsTable } from "./schema.ts";
import { runStatement, selectRows } from "./sqlite-direct.ts";
import { definedColumns, prebuiltSql } from "./prebuilt.ts";
import { SQLITE_SQL } from "./sqlite-sql.ts";
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
  return (await selectRows<SecretRow>(db, text, [owner.ownerType, owner.ownerId, keyName]))[0] ?? null;
}

/**
 * Reads a secret's row and, on PostgreSQL, locks it until the transaction ends, so concurrent
 * writers of the same secret take turns (SQLite's BEGIN IMMEDIATE already serialises writers).
 */
export async function lockSecret(db: Executor, owner: OwnerColumns, keyName: string): Promise<SecretRow | null> {
  // Every write of a version runs this: its SQL is built once per dialect.
  const params = [owner.ownerType, owner.ownerId, keyName];
  const text = prebuiltSql(db, "lockSecret", params, () => {
    const q = db
      .selectFrom("secrets")
      .selectAll()
      .where("owner_type", "=", owner.ownerType)
      .where("owner_id", "=", owner.ownerId)
      .where("key_name", "=", keyName);
    return (isPostgres(db) ? q.forUpdate() : q).compile();
  });
  return (await selectRows<SecretRow>(db, text, params))[0] ?? null;
}

/**
 * Creates the secret's row unless it exists. Two writers creating the same secret at once do
 * not fail: the second waits for the first and then does nothing.
 */
export async function insertSecretIfAbsent(db: Executor, row: Insertable<SecretsTable>): Promise<void> {
  const columns = definedColumns(row);
  const params = columns.map((c) => row[c]);
  const text = prebuiltSql(db, `insertSecretIfAbsent:${columns.join(",")}`, params, () =>
    db
      .insertInto("secrets")
      .values(row)
      .onConflict((oc) => oc.columns(["owner_type", "owner_id", "key_name"]).doNothing())
      .compile(),
  );
  await runStatement(db, text, params);
}

/** Its SQL is built once per dialect and set of columns (every write of a version runs it). */
export async function updateSecret(db: Executor, id: number, patch: Updateable<SecretsTable>): Promise<void> {
  const columns = definedColumns(patch);
  const params = [...columns.map((c) => patch[c]), id];
  const text = prebuiltSql(db, `updateSecret:${columns.join(",")}`, params, () =>
    db.updateTable("secrets").set(patch).where("id", "=", id).compile(),
  );
  await runStatement(db, text, params);
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

/** Its SQL is built once per dialect and set of columns (every write of a version runs it). */
export async function insertVersion(db: Executor, row: Insertable<SecretVersionsTable>): Promise<void> {
  const columns = definedColumns(row);
  const params = columns.map((c) => row[c]);
  const text = prebuiltSql(db, `insertVersion:${columns.join(",")}`, params, () => db.insertInto("secret_versions").values(row).compile());
  await runStatement(db, text, params);
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
  return (await selectRows<VersionRow>(db, text, [secretId, version]))[0] ?? null;
}

/** What opening a version needs (its sealed value and where it stands), and no more. */
export const SEALED_VERSION_COLUMNS = ["version", "alg", "nonce", "ciphertext", "wrapped_dek", "scope_key_id", "destroyed_at"] as const;
export type SealedVersionRow = Pick<VersionRow, (typeof SEALED_VERSION_COLUMNS)[number]>;

const findSealedVersionSql = new Map<boolean, string>();

/**
 * {@link findVersion}'s row without the columns a reveal does not use (the value's HMAC, who
 * and when): every column read is a string or a Buffer built for each read, and a reveal reads
 * its version on every call. Its SQL is built once per dialect.
 */
export async function findSealedVersion(db: Executor, secretId: number, version: number): Promise<SealedVersionRow | null> {
  const pg = isPostgres(db);
  let text = findSealedVersionSql.get(pg);
  if (text === undefined) {
    text = db
      .selectFrom("secret_versions")
      .select(SEALED_VERSION_COLUMNS)
      .where("secret_id", "=", 0)
      .where("version", "=", 0)
      .compile().sql;
    findSealedVersionSql.set(pg, text);
  }
  return (await selectRows<SealedVersionRow>(db, text, [secretId, version]))[0] ?? null;
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
  await runStatement(db, text, [patch.wrapped_dek, patch.scope_key_id, key.secretId, key.version]);
}

/** A live secret and its current version's row (null when that row is missing: tampering). */
export type CurrentVersion = { readonly secret: SecretRow; readonly version: VersionRow | null };

/**
 * Live secrets of an owner (with a name prefix) and each one's current version, for decryption
 * (`run`, export). One query; a LEFT JOIN, so a secret whose current version row was deleted is
 * returned (with `version: null`) to be refused, not silently skipped.
 */
export async function listCurrentVersions(db: Executor, owner: OwnerColumns, prefix: string): Promise<CurrentVersion[]> {
  const rows = isPostgres(db) ? await currentVersionRows(db, owner, prefix) : await sqliteCurrentVersionRows(db, owner, prefix);
  return rows.map(toCurrentVersion);
}

type CurrentVersionJoinRow = Awaited<ReturnType<typeof currentVersionRows>>[number];

/** SQLite: written out (sqlite-sql.ts), so `coffer run` does not load Kysely. */
function sqliteCurrentVersionRows(db: Executor, owner: OwnerColumns, prefix: string): Promise<CurrentVersionJoinRow[]> {
  return prefix === ""
    ? selectRows<CurrentVersionJoinRow>(db, SQLITE_SQL.listCurrentVersions, [owner.ownerType, owner.ownerId])
    : selectRows<CurrentVersionJoinRow>(db, SQLITE_SQL.listCurrentVersionsPrefixed, [
        owner.ownerType,
        owner.ownerId,
        prefix.length,
        prefix,
      ]);
}

/** The query behind {@link listCurrentVersions}, as built for PostgreSQL (and checked against SQLite's text in sqlite-sql.test.ts). */
export function currentVersionsQuery(db: Executor, owner: OwnerColumns, prefix: string) {
  let q = db
    .selectFrom("secrets as s")
    .leftJoin("secret_versions as v", (j) => j.onRef("v.secret_id", "=", "s.id").onRef("v.version", "=", "s.current_version"))
    .select([
      "s.id as s_id",
      "s.owner_type",
      "s.owner_id",
      "s.key_name",
      "s.current_version",
      "s.meta",
      "s.created_at as s_created_at",
      "s.updated_at as s_updated_at",
      "s.last_rotated_at",
      "s.deleted_at",
      "s.state_mac",
      "v.secret_id",
      "v.version",
      "v.alg",
      "v.nonce",
      "v.ciphertext",
      "v.wrapped_dek",
      "v.scope_key_id",
      "v.hmac",
      "v.hmac_key_id",
      "v.created_at",
      "v.created_by",
      "v.destroyed_at",
    ])
    .where("s.owner_type", "=", owner.ownerType)
    .where("s.owner_id", "=", owner.ownerId)
    .where("s.deleted_at", "is", null);
  if (prefix !== "") q = q.where((eb) => eb(eb.fn("substr", ["s.key_name", eb.lit(1), eb.val(prefix.length)]), "=", prefix));
  return q.orderBy("s.key_name");
}

function currentVersionRows(db: Executor, owner: OwnerColumns, prefix: string) {
  return currentVersionsQuery(db, owner, prefix).execute();
}

function toCurrentVersion(r: CurrentVersionJoinRow): CurrentVersion {
  return {
    secret: {
      id: r.s_id,
      owner_type: r.owner_type,
      owner_id: r.owner_id,
      key_name: r.key_name,
      current_version: r.current_version,
      meta: r.meta,
      created_at: r.s_created_at,
      updated_at: r.s_updated_at,
      last_rotated_at: r.last_rotated_at,
      deleted_at: r.deleted_at,
      state_mac: r.state_mac,
    },
    version:
      r.secret_id === null ||
      r.version === null ||
      r.alg === null ||
      r.nonce === null ||
      r.ciphertext === null ||
      r.wrapped_dek === null ||
      r.scope_key_id === null ||
      r.created_at === null ||
      r.created_by === null
        ? null
        : {
            secret_id: r.secret_id,
            version: r.version,
            alg: r.alg,
            nonce: r.nonce,
            ciphertext: r.ciphertext,
            wrapped_dek: r.wrapped_dek,
            scope_key_id: r.scope_key_id,
            hmac: r.hmac,
            hmac_key_id: r.hmac_key_id,
            created_at: r.created_at,
            created_by: r.created_by,
            destroyed_at: r.destroyed_at,
          },
  };
}

/** Every secret row (deleted ones too) after a cursor, in id order: for the backfill and `audit verify`. */
export async function listAllSecrets(db: Executor, afterId: number, limit: number): Promise<SecretRow[]> {
  return db.selectFrom("secrets").selectAll().where("id", ">", afterId).orderBy("id").limit(limit).execute();
}

export type ValueHmacRow = {
  readonly owner_type: string;
  readonly owner_id: string;
  readonly key_name: string;
  readonly version: number;
  readonly hmac: Uint8Array | null;
  readonly hmac_key_id: string | null;
};

/** The plaintext HMACs of every live secret's current version (optionally one owner's): `secrets check`. */
export async function listCurrentHmacs(db: Executor, owner: OwnerColumns | null): Promise<ValueHmacRow[]> {
  let q = db
    .selectFrom("secrets as s")
    .innerJoin("secret_versions as v", (j) => j.onRef("v.secret_id", "=", "s.id").onRef("v.version", "=", "s.current_version"))
    .select(["s.owner_type", "s.owner_id", "s.key_name", "v.version", "v.hmac", "v.hmac_key_id"])
    .where("s.deleted_at", "is", null);
  if (owner !== null) q = q.where("s.owner_type", "=", owner.ownerType).where("s.owner_id", "=", owner.ownerId);
  return q.orderBy("s.owner_type").orderBy("s.owner_id").orderBy("s.key_name").execute();
}

/** Sets a version's plaintext HMAC (a rotation recomputes it under the current HMAC key). */
export async function updateVersionHmac(
  db: Executor,
  key: { readonly secretId: number; readonly version: number },
  patch: { readonly hmac: Uint8Array; readonly hmac_key_id: string },
): Promise<void> {
  await db.updateTable("secret_versions").set(patch).where("secret_id", "=", key.secretId).where("version", "=", key.version).execute();
}
