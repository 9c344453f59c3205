/** `coffer import --legacy`: a v1/v2 listing re-encrypted into the store. */
export { LegacyImport, LEGACY_FORMATS } from "./legacy-import.ts";
export type { ImportedSecret, LegacyFormat, LegacyImportInput, LegacyImportSummary } from "./legacy-import.ts";
