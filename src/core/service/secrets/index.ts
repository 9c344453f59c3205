/** Secrets: CRUD, reveal and export, idempotent writes, bulk import, generated values (one door: SecretsService). */
export { SecretsService, IDEMPOTENCY_TTL_MS, REQUEST_DIGEST_PURPOSE } from "./secrets-service.ts";
export type {
  ExportedSecret,
  Idempotency,
  IdempotentResult,
  ListInput,
  RevealInput,
  RevealedSecret,
  SetInput,
  SharedLink,
} from "./secrets-service.ts";
export { IMPORT_MODES } from "./secret-bulk.ts";
export type { ImportEntry, ImportInput, ImportMode, ImportSummary, ImportedKey } from "./secret-bulk.ts";
export { GENERATOR_CHARSETS, GENERATOR_ENCODINGS, GENERATOR_META_KEY, SecretGenerator } from "./secret-generate.ts";
export type { GenerateInput, GenerateResult, GeneratorOptions } from "./secret-generate.ts";
export type { SecretView, VersionView } from "./secret-views.ts";
export { SecretStateMac } from "./secret-state.ts";
export { prepareStateMacs } from "./integrity-marks.ts";
