// Coffer's side: the real core (SecretsService over the real store), built as the CLI builds it.
import { join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { loadConfig } from "../src/core/config/index.ts";
import { Secret } from "../src/core/secret/index.ts";
import { LOCAL_CONTEXT, createCore, type Actor, type Core } from "../src/core/service/index.ts";
import { measureStateMac, type StateMacCost } from "./state-mac.ts";
import { ACTOR_USER, OWNER, keyName, type BenchDb, type Dialect, type RangeFn, type Workload } from "./common.ts";

export const ACTOR: Actor = { kind: "local", user: ACTOR_USER };
const REASON = "benchmark";

/** Coffer's public operations over the workload, with the same shape as the floor. */
export interface CofferOps {
  readonly set: RangeFn;
  readonly get: RangeFn;
  readonly reveal: RangeFn;
  warmUp(n: number): Promise<void>;
  /** The state MAC check alone on `n` of the secrets read by `get` (bench/state-mac.ts). */
  stateMac(n: number): Promise<StateMacCost>;
  /**
   * SQLite: Coffer's own DDL for the tables the floor writes (so both use the same schema).
   * PostgreSQL: nothing; the floor copies Coffer's tables inside the database (floor-postgres.ts).
   */
  schema(): readonly string[];
  close(): Promise<void>;
}

function readSqliteSchema(home: string): readonly string[] {
  const db = new SqliteDatabase(join(home, "coffer.db"), { readonly: true });
  try {
    return db
      .prepare<[], string>(
        `SELECT sql FROM sqlite_master WHERE tbl_name IN ('secrets', 'secret_versions') AND sql IS NOT NULL ORDER BY rowid`,
      )
      .pluck()
      .all();
  } finally {
    db.close();
  }
}

/**
 * Per dialect: Coffer's environment for a bench home, and how to read its schema back. On
 * PostgreSQL the home holds only the master key; `poolMax` is `COFFER_DB_POOL_MAX`.
 */
const ENV: Readonly<{ [D in Dialect]: (db: Extract<BenchDb, { dialect: D }>, home: string, poolMax: number) => Record<string, string> }> = {
  sqlite: (_db, home) => ({ COFFER_HOME: home }),
  postgres: (db, home, poolMax) => ({ COFFER_HOME: home, COFFER_DB_URL: db.url, COFFER_DB_POOL_MAX: String(poolMax) }),
};
const SCHEMA: Readonly<Record<Dialect, (home: string) => readonly string[]>> = { sqlite: readSqliteSchema, postgres: () => [] };

/** The environment Coffer reads for a bench home of this database (PostgreSQL: one connection unless `poolMax`). */
export function cofferEnv(db: BenchDb, home: string, poolMax = 1): Record<string, string> {
  return db.dialect === "sqlite" ? ENV.sqlite(db, home, poolMax) : ENV.postgres(db, home, poolMax);
}

/** The core as the CLI builds it; PostgreSQL is migrated on the first open (as `coffer migrate` would). */
export async function openCofferCore(db: BenchDb, home: string, poolMax = 1): Promise<Core> {
  return createCore(loadConfig({ env: cofferEnv(db, home, poolMax) }), { migrate: true });
}

/** The `CREATE` statements of `secrets`, `secret_versions` and their indexes, read from Coffer's own database. */
function readSchema(dialect: Dialect, home: string): readonly string[] {
  return SCHEMA[dialect](home);
}

export async function openCofferOps(db: BenchDb, home: string, w: Workload): Promise<CofferOps> {
  const core = await openCofferCore(db, home);
  const s = core.secrets;
  const set1 = async (owner: string, i: number): Promise<void> => {
    await s.set(ACTOR, LOCAL_CONTEXT, { owner, key: w.keys[i]!, value: Secret.fromString(w.values[i]!) });
  };
  const reveal1 = async (owner: string, i: number): Promise<void> => {
    const { value } = await s.reveal(ACTOR, LOCAL_CONTEXT, { owner, key: w.keys[i]!, reason: REASON });
    if (value.revealText() !== w.values[i]) throw new Error("coffer: wrong plaintext");
    value.wipe();
  };
  const warmOwner = `${OWNER}-warmup`;
  return {
    set: async (from, to) => {
      for (let i = from; i < to; i++) await set1(OWNER, i);
    },
    get: async (from, to) => {
      for (let j = from; j < to; j++) await s.get(ACTOR, { owner: OWNER, key: w.keys[w.order[j]!]! });
    },
    reveal: async (from, to) => {
      for (let j = from; j < to; j++) await reveal1(OWNER, w.order[j]!);
    },
    warmUp: async (n) => {
      for (let i = 0; i < n; i++) await set1(warmOwner, i);
      for (let i = 0; i < n; i++) {
        await s.get(ACTOR, { owner: warmOwner, key: w.keys[i]! });
        await reveal1(warmOwner, i);
      }
    },
    stateMac: (n) => measureStateMac(core, w, n),
    schema: () => readSchema(db.dialect, home),
    close: () => core.close(),
  };
}

/** Creates a home whose owner holds `n` secrets of `VALUE_BYTES` bytes (for `coffer run`). */
export async function seedHome(db: BenchDb, home: string, n: number, w: Workload): Promise<void> {
  const core = await openCofferCore(db, home);
  try {
    for (let i = 0; i < n; i++) {
      await core.secrets.set(ACTOR, LOCAL_CONTEXT, {
        owner: OWNER,
        key: keyName(i),
        value: Secret.fromString(w.values[i % w.values.length]!),
      });
    }
  } finally {
    await core.close();
  }
}
