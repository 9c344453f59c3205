import { PostgresAdapter, sql, type Kysely } from "kysely";
import { Migrator, type Migration } from "kysely/migration";
import { CofferError } from "../errors/index.ts";

const MIGRATION_TABLE = "coffer_migration";
const MIGRATION_LOCK_TABLE = "coffer_migration_lock";

export type MigrationStatus = {
  readonly applied: readonly string[];
  readonly pending: readonly string[];
};

function migrator(db: Kysely<unknown>, migrations: Readonly<Record<string, Migration>>): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve({ ...migrations }) },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
}

/**
 * Which known migrations are applied and which pending.
 * @throws CofferError SCHEMA_TOO_NEW when the database has a migration this build does not know.
 */
export async function migrationStatus(db: Kysely<unknown>, migrations: Readonly<Record<string, Migration>>): Promise<MigrationStatus> {
  const known = Object.keys(migrations).sort();
  const applied = await appliedNames(db);
  const unknown = applied.filter((n) => !known.includes(n));
  if (unknown.length > 0) {
    throw new CofferError(
      "SCHEMA_TOO_NEW",
      `the database schema is newer than this Coffer (unknown migrations: ${unknown.join(", ")}); upgrade Coffer`,
      { migrations: unknown },
    );
  }
  return { applied, pending: known.filter((n) => !applied.includes(n)) };
}

/**
 * Whether the migration table exists, by name as the following SELECT resolves it. Not Kysely's
 * `introspection.getTables()`: that reads every column of every table (on SQLite a pragma per
 * table), which cost every CLI start several milliseconds (docs/benchmarks.md, `run` start-up).
 */
async function migrationTableExists(db: Kysely<unknown>): Promise<boolean> {
  const q =
    db.getExecutor().adapter instanceof PostgresAdapter
      ? sql<{ found: number }>`SELECT 1 AS found WHERE to_regclass(${MIGRATION_TABLE}) IS NOT NULL`
      : sql<{ found: number }>`SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ${MIGRATION_TABLE}`;
  return (await q.execute(db)).rows.length > 0;
}

async function appliedNames(db: Kysely<unknown>): Promise<string[]> {
  if (!(await migrationTableExists(db))) return [];
  const rows = await (db as Kysely<Record<string, { name: string }>>).selectFrom(MIGRATION_TABLE).select("name").orderBy("name").execute();
  return rows.map((r) => r.name);
}

/**
 * Applies every pending migration, each in its own transaction. The common case — nothing
 * pending — costs one read, so every CLI start does not pay for the migrator's locking.
 */
export async function migrateToLatest(db: Kysely<unknown>, migrations: Readonly<Record<string, Migration>>): Promise<readonly string[]> {
  const status = await migrationStatus(db, migrations);
  if (status.pending.length === 0) return [];
  const { error, results } = await migrator(db, migrations).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new CofferError("INTERNAL", `migration ${failed} failed`, { migration: failed }, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
