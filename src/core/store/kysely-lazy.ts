import { createRequire } from "node:module";

/**
 * Set by scripts/bundle.mjs to the bundle's one copy of Kysely (`./kysely.js`, beside every
 * chunk), so this loader and the chunks that import Kysely statically share it. Undefined when
 * running from source: the package itself.
 */
declare const BUNDLED_KYSELY: string | undefined;

type KyselyModule = typeof import("kysely");
let loaded: KyselyModule | undefined;

/**
 * Kysely, loaded on first use. The modules on `coffer run`'s path (the SQLite store, the
 * repositories, the migration check) reach Kysely only through this, so a run whose
 * statements all have a direct better-sqlite3 path (sqlite-direct.ts) never loads its ~450 KB
 * (start-up is a target, docs/benchmarks.md). Synchronous — `require` of an ES module,
 * Node ≥ 22.12 — because query builders are: the first builder call loads it.
 */
export function kysely(): KyselyModule {
  loaded ??= createRequire(import.meta.url)(typeof BUNDLED_KYSELY === "string" ? BUNDLED_KYSELY : "kysely") as KyselyModule;
  return loaded;
}
