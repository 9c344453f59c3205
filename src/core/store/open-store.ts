import { CofferError } from "../errors/index.ts";
import type { Secret } from "../secret/index.ts";
import { openPostgresStore } from "./postgres-store.ts";
import { openSqliteStore } from "./sqlite-store.ts";
import type { Store } from "./store.ts";

export type StoreSettings =
  | { readonly kind: "sqlite"; readonly path: string }
  | { readonly kind: "postgres"; readonly url: Secret; readonly poolMax: number; readonly statementTimeoutMs: number };

/**
 * Opens the configured store. PostgreSQL connections are lazy: a wrong URL fails on first use
 * (the migration check at boot), with CONFIG_INVALID.
 */
export function openStore(settings: StoreSettings): Store {
  switch (settings.kind) {
    case "sqlite":
      return openSqliteStore(settings);
    case "postgres":
      return openPostgresStore(settings);
    default:
      throw new CofferError("CONFIG_INVALID", "unknown store kind");
  }
}
