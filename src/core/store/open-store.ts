import { CofferError } from "../errors/index.ts";
import type { Secret } from "../secret/index.ts";
import { openSqliteStore } from "./sqlite-store.ts";
import type { Store } from "./store.ts";

export type StoreSettings =
  | { readonly kind: "sqlite"; readonly path: string; readonly busyTimeoutMs: number }
  | { readonly kind: "postgres"; readonly url: Secret; readonly poolMax: number; readonly statementTimeoutMs: number };

/**
 * Opens the configured store. The PostgreSQL driver is loaded only when PostgreSQL is chosen:
 * it would add about 180 KB to every CLI start (`coffer run` start-up is a target). Its
 * connections are lazy: a wrong URL fails on first use (the migration check at boot).
 */
export async function openStore(settings: StoreSettings): Promise<Store> {
  switch (settings.kind) {
    case "sqlite":
      return openSqliteStore(settings);
    case "postgres":
      return (await import("./postgres-store.ts")).openPostgresStore(settings);
    default:
      throw new CofferError("CONFIG_INVALID", "unknown store kind");
  }
}
