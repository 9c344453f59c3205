export { openStore } from "./open-store.ts";
export type { StoreSettings } from "./open-store.ts";
export { NO_OWNERS, DIALECT_NAMES, ownerPatternToLike } from "./store.ts";
export type { Store, OwnerScope, DialectName } from "./store.ts";
export type { Database, Executor } from "./schema.ts";
export type { MigrationStatus } from "./migrate.ts";
export * as secretRepo from "./secret-repo.ts";
export * as keyRepo from "./key-repo.ts";
export * as auditRepo from "./audit-repo.ts";
