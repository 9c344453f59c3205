export { createCore, migrateDatabase } from "./create-core.ts";
export type { Core, CoreOptions, MigrationReport } from "./create-core.ts";
export { SecretsService, IDEMPOTENCY_TTL_MS } from "./secrets-service.ts";
export type {
  SetInput,
  RevealInput,
  ListInput,
  RevealedSecret,
  SharedLink,
  Idempotency,
  IdempotentResult,
  ExportedSecret,
} from "./secrets-service.ts";
export { IMPORT_MODES } from "./secret-bulk.ts";
export { GENERATOR_CHARSETS, GENERATOR_ENCODINGS, GENERATOR_META_KEY, SecretGenerator } from "./secret-generate.ts";
export type { GenerateInput, GenerateResult, GeneratorOptions } from "./secret-generate.ts";
export { TemplateService, TEMPLATE_NAME_RULE } from "./templates.ts";
export type { TemplateView, TemplateText, RenderedTemplate } from "./templates.ts";
export type { ImportMode, ImportEntry, ImportInput, ImportSummary, ImportedKey } from "./secret-bulk.ts";
export { TokenService, parseTtl } from "./tokens.ts";
export { ConsoleSessions } from "./console-sessions.ts";
export { OwnerListing } from "./owner-listing.ts";
export type { OwnerSummary } from "./owner-listing.ts";
export type { ConsoleSessionPolicy, StartedSession, ResolvedSession } from "./console-sessions.ts";
export type { TokenView, CreateTokenInput, CreatedToken } from "./tokens.ts";
export { recentAuthentication } from "./guard.ts";
export type { ReauthHook, ReauthDecision } from "./guard.ts";
export { PERMISSIONS } from "./actor.ts";
export type { Permission, TokenActor, LocalActor } from "./actor.ts";
export { ownerMatches, parseOwnerPattern } from "./access.ts";
export type { SecretView, VersionView } from "./secret-views.ts";
export { AuditLog } from "./audit-log.ts";
export { parseAnchor } from "./audit-verify.ts";
export type { AuditEventView, AuditVerification } from "./audit-log.ts";
export { LOCAL_CONTEXT, actorLabel } from "./actor.ts";
export type { Actor, RequestContext } from "./actor.ts";
export type { Logger } from "./logger.ts";
export { silentLogger } from "./logger.ts";
export { KeyEscrow, recoverMasterKey } from "./key-escrow.ts";
export type { RecoveredKey, ShareInput } from "./key-escrow.ts";
export { keyStatus, NONCE_BUDGET_PER_KEY } from "./key-status.ts";
export type { KeyStatus, KidStatus, StatusPolicy } from "./key-status.ts";
export { LegacyImport, LEGACY_FORMATS } from "./legacy-import.ts";
export type { ImportedSecret, LegacyFormat, LegacyImportInput, LegacyImportSummary } from "./legacy-import.ts";
export { CryptoErase, parseRetention } from "./crypto-erase.ts";
export { ValueCheck } from "./value-check.ts";
export type { CheckReport } from "./value-check.ts";
export type { BackupExposure, EraseInput, EraseReport } from "./crypto-erase.ts";
export { OwnerRekey } from "./owner-rekey.ts";
export type { RekeyReport } from "./owner-rekey.ts";
export { KekRotation } from "./kek-rotation.ts";
export type { RotationReport, RotationProgress, RetireReport, RotateOptions } from "./kek-rotation.ts";
export { AutoRotation, ROTATION_LEASE } from "./auto-rotation.ts";
export type { AutoRotationOutcome } from "./auto-rotation.ts";
