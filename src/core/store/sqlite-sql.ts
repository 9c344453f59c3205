/**
 * SQLite text of the statements every `coffer run` makes, written out rather than built by
 * Kysely, so that its start-up does not load Kysely (kysely-lazy.ts). Each is exactly what
 * Kysely compiles for the query the repository builds on PostgreSQL (sqlite-sql.test.ts checks
 * that); parameters in the order of their `?`.
 */
export const SQLITE_SQL = Object.freeze({
  /** keyRepo.listKeyringKeys. */
  listKeyringKeys: 'select * from "keyring_keys" order by "created_at"',
  /** keyRepo.findInternalKey: purpose. */
  findInternalKey: 'select * from "internal_keys" where "purpose" = ?',
  /** keyRepo.findScopeKey: id. */
  findScopeKey: 'select * from "scope_keys" where "id" = ?',
  /** integrityRepo.findMark: name. */
  findMark: 'select * from "integrity_marks" where "name" = ?',
  /** integrityRepo.putMark (the update): seq, digest, key_id, mac, updated_at, name. */
  updateMark: 'update "integrity_marks" set "seq" = ?, "digest" = ?, "key_id" = ?, "mac" = ?, "updated_at" = ? where "name" = ?',
  /** auditRepo.lastAuditEvent. */
  lastAuditEvent: 'select "seq", "mac" from "audit_events" order by "seq" desc limit 1',
  /** secretRepo.listCurrentVersions without a prefix: owner type, owner id. */
  listCurrentVersions:
    'select "s"."id" as "s_id", "s"."owner_type", "s"."owner_id", "s"."key_name", "s"."current_version", "s"."meta", "s"."created_at" as "s_created_at", "s"."updated_at" as "s_updated_at", "s"."last_rotated_at", "s"."deleted_at", "s"."state_mac", "v"."secret_id", "v"."version", "v"."alg", "v"."nonce", "v"."ciphertext", "v"."wrapped_dek", "v"."scope_key_id", "v"."hmac", "v"."hmac_key_id", "v"."created_at", "v"."created_by", "v"."destroyed_at" from "secrets" as "s" left join "secret_versions" as "v" on "v"."secret_id" = "s"."id" and "v"."version" = "s"."current_version" where "s"."owner_type" = ? and "s"."owner_id" = ? and "s"."deleted_at" is null order by "s"."key_name"',
  /** secretRepo.listCurrentVersions with a prefix: owner type, owner id, prefix length, prefix. */
  listCurrentVersionsPrefixed:
    'select "s"."id" as "s_id", "s"."owner_type", "s"."owner_id", "s"."key_name", "s"."current_version", "s"."meta", "s"."created_at" as "s_created_at", "s"."updated_at" as "s_updated_at", "s"."last_rotated_at", "s"."deleted_at", "s"."state_mac", "v"."secret_id", "v"."version", "v"."alg", "v"."nonce", "v"."ciphertext", "v"."wrapped_dek", "v"."scope_key_id", "v"."hmac", "v"."hmac_key_id", "v"."created_at", "v"."created_by", "v"."destroyed_at" from "secrets" as "s" left join "secret_versions" as "v" on "v"."secret_id" = "s"."id" and "v"."version" = "s"."current_version" where "s"."owner_type" = ? and "s"."owner_id" = ? and "s"."deleted_at" is null and substr("s"."key_name", 1, ?) = ? order by "s"."key_name"',
});

/** A SQLite identifier, quoted as Kysely's SQLite compiler quotes it. */
function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `insert into "table" ("a", "b", …)`: the start of a multi-row INSERT, as Kysely compiles it. */
export function sqliteInsertPrefix(table: string, columns: readonly string[]): string {
  return `insert into ${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(", ")})`;
}
