/**
 * The service layer's public door: `createCore` and the facade it returns, and the types its
 * adapters (CLI, server) name. Each capability keeps its own index (access/, audit/, secrets/,
 * sharing/, templates/, tokens/, admin/*); what only the core uses stays inside.
 */
export { createCore, migrateDatabase } from "./create-core.ts";
export type { AdminServices, AuditService, Core, CoreOptions, Health, MigrationReport } from "./create-core.ts";
export { LOCAL_CONTEXT, PERMISSIONS } from "./access/index.ts";
export type { Actor, ReauthHook, RequestContext, TokenActor } from "./access/index.ts";
export { IMPORT_MODES } from "./secrets/index.ts";
export type {
  GenerateResult,
  GeneratorOptions,
  ImportMode,
  ImportSummary,
  RevealedSecret,
  SecretView,
  VersionView,
} from "./secrets/index.ts";
export { parseAnchor } from "./audit/index.ts";
export type { AuditEventView, AuditVerification } from "./audit/index.ts";
export type { TemplateText, TemplateView } from "./templates/index.ts";
export { parseRetention } from "./admin/erase/index.ts";
export type { EraseReport } from "./admin/erase/index.ts";
export type { RetireReport, RotateOptions, RotationProgress, RotationReport } from "./admin/rotation/index.ts";
export type { RekeyReport } from "./admin/rekey/index.ts";
export type { KeyStatus } from "./admin/status/index.ts";
export type { CreateTokenInput, CreatedToken, TokenView } from "./tokens/index.ts";
export { recoverMasterKey } from "./admin/escrow/index.ts";
export type { RecoveredKey, ShareInput } from "./admin/escrow/index.ts";
export { LEGACY_FORMATS } from "./admin/legacy-import/index.ts";
export type { LegacyFormat, LegacyImportSummary } from "./admin/legacy-import/index.ts";
export type { CheckReport } from "./admin/check/index.ts";
export { ConsoleSessions } from "./sessions/index.ts";
export type { ConsoleSessionPolicy, ResolvedSession, StartedSession } from "./sessions/index.ts";
export { OwnerListing } from "./owners/index.ts";
export type { OwnerSummary } from "./owners/index.ts";
export type { Logger } from "./logger.ts";
export { silentLogger } from "./logger.ts";
