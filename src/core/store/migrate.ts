import type { Kysely } from "kysely";
import type { Migration, Migrator } from "kysely/migration";
import { CofferError } from "../errors/index.ts";
import { kysely } from "./kysely-lazy.ts";
import type { Executor } from "./schema.ts";
import { selectRows } from "./sqlite-direct.ts";
import { isPostgres } from "./store.ts";

const MIGRATION_TABLE = "coffer_migration";
const MIGRATION_LOCK_TABLE = "coffer_migration_lock";

export type MigrationStatus = {
  readonly applied: readonly string[];
  readonly pending: readonly string[];
};

/** Kysely's migrator: loaded only when a migration is pending (a dynamic import; the bundle maps it to its Kysely). */
async function migrator(db: Kysely<unknown>, migrations: Readonly<Record<string, Migration>>): Promise<Migrator> {
  const { Migrator } = await import("kysely/migration");
  return new Migrator({
    db,
    provider: { getMigrations: () => Promise.resolve({ ...migrations }) },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
}

/**
 * Which known migrations are applied and which pending. `migrations`: the migrations, or just
 * their names (the SQLite store checks without loading them).
 * @throws CofferError SCHEMA_TOO_NEW when the database has a migration this build does not know.
 */
export async function migrationStatus(
  db: Kysely<unknown>,
  migrations: Readonly<Record<string, Migration>> | readonly string[],
): Promise<MigrationStatus> {
  const known = (isNameList(migrations) ? [...migrations] : Object.keys(migrations)).sort();
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

function isNameList(m: Readonly<Record<string, Migration>> | readonly string[]): m is readonly string[] {
  return Array.isArray(m);
}

/**
 * Whether the migration table exists, by name as the following SELECT resolves it. Not Kysely's
 * `introspection.getTables()`: that reads every column of every table (on SQLite a pragma per
 * table), which cost every CLI start several milliseconds (docs/benchmarks.md, `run` start-up).
 * On SQLite both reads run directly (sqlite-direct.ts): every CLI start makes them.
 */
async function migrationTableExists(db: Executor): Promise<boolean> {
  if (isPostgres(db)) {
    const q = kysely().sql<{ found: number }>`SELECT 1 AS found WHERE to_regclass(${MIGRATION_TABLE}) IS NOT NULL`;
    return (await q.execute(db)).rows.length > 0;
  }
  return (await selectRows(db, "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = ?", [MIGRATION_TABLE])).length > 0;
}

async function appliedNames(kdb: Kysely<unknown>): Promise<string[]> {
  const db = kdb as unknown as Executor;
  if (!(await migrationTableExists(db))) return [];
  const rows = await selectRows<{ name: string }>(db, `select "name" from "${MIGRATION_TABLE}" order by "name"`, []);
  return rows.map((r) => r.name);
}

/**
 * Applies every pending migration, each in its own transaction. The common case — nothing
 * pending — costs one read, so every CLI start does not pay for the migrator's locking.
 */
export async function migrateToLatest(db: Kysely<unknown>, migrations: Readonly<Record<string, Migration>>): Promise<readonly string[]> {
  const status = await migrationStatus(db, migrations);
  if (status.pending.length === 0) return [];
  const { error, results } = await (await migrator(db, migrations)).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new CofferError("INTERNAL", `migration ${failed} failed`, { migration: failed }, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
