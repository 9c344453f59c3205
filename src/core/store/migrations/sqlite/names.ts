/**
 * The SQLite migrations' names, in order (migrations/sqlite/index.ts; a test checks that the
 * two agree). The store checks the database against these at every start without loading the
 * migrations themselves (they need Kysely; `coffer run` start-up does not load it).
 */
export const SQLITE_MIGRATION_NAMES: readonly string[] = Object.freeze([
  "0001-initial",
  "0002-rotation-jobs",
  "0003-server",
  "0004-integrity",
  "0005-leases",
  "0006-templates",
  "0007-console-sessions",
  "0008-state-mac-format-2",
]);
