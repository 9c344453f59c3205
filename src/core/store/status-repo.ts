import type { Executor } from "./schema.ts";

export type KidUsage = {
  readonly kid: string;
  readonly scopeKeys: number;
  readonly owners: number;
  readonly versions: number;
  readonly internalKeys: number;
};

/** What depends on each kid: scope keys (and their owners), secret versions under them, internal keys. */
export async function usageByKid(db: Executor): Promise<KidUsage[]> {
  const scope = await db
    .selectFrom("scope_keys")
    .select((eb) => ["kid", eb.fn.countAll<number>().as("n"), eb.fn.count<number>("owner_id").distinct().as("owners")])
    .groupBy("kid")
    .execute();
  const versions = await db
    .selectFrom("secret_versions as v")
    .innerJoin("scope_keys as sk", "sk.id", "v.scope_key_id")
    .where("v.destroyed_at", "is", null)
    .select((eb) => ["sk.kid as kid", eb.fn.countAll<number>().as("n")])
    .groupBy("sk.kid")
    .execute();
  const internal = await db
    .selectFrom("internal_keys")
    .select((eb) => ["kid", eb.fn.countAll<number>().as("n")])
    .groupBy("kid")
    .execute();
  const kids = new Set([...scope.map((r) => r.kid), ...versions.map((r) => r.kid), ...internal.map((r) => r.kid)]);
  return [...kids].sort().map((kid) => ({
    kid,
    scopeKeys: scope.find((r) => r.kid === kid)?.n ?? 0,
    owners: scope.find((r) => r.kid === kid)?.owners ?? 0,
    versions: versions.find((r) => r.kid === kid)?.n ?? 0,
    internalKeys: internal.find((r) => r.kid === kid)?.n ?? 0,
  }));
}

export type SecretTotals = { readonly secrets: number; readonly liveSecrets: number; readonly versions: number };

export async function secretTotals(db: Executor): Promise<SecretTotals> {
  const s = await db
    .selectFrom("secrets")
    .select((eb) => [eb.fn.countAll<number>().as("n"), eb.fn.count<number>("deleted_at").as("deleted")])
    .executeTakeFirstOrThrow();
  const v = await db
    .selectFrom("secret_versions")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return { secrets: s.n, liveSecrets: s.n - s.deleted, versions: v.n };
}

export async function listRotationJobs(db: Executor, limit: number) {
  return db.selectFrom("rotation_jobs").selectAll().orderBy("started_at", "desc").limit(limit).execute();
}
