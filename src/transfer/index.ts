/**
 * Import and export of secret files and bundles: one implementation that both adapters call
 * (the CLI's local mode and the HTTP server), so the same mistake gets the same error.
 */
export { importFile, exportBundle, MISSING_OWNER_RULE } from "./transfer.ts";
export type { ImportRequest, ExportRequest, ExportedBundle } from "./transfer.ts";
