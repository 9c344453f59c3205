/** The audit log: a keyed hash chain, read through `core.audit` (gated) and verified end to end. */
export { AuditLog } from "./audit-log.ts";
export type { AuditAnchor, AuditEventView, AuditInput, AuditListFilter, AuditVerification } from "./audit-log.ts";
export { parseAnchor } from "./audit-verify.ts";
