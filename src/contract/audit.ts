/** The audit log (`/v1/audit`, `/v1/audit/verify`). */
import * as z from "zod/mini";
import { TIME_RULE } from "../core/model/index.ts";
import { CursorQuery, doc, LimitQuery, text, Timestamp } from "./common.ts";

export const AuditEventDto = doc(
  z.object({
    seq: z.int(),
    at: Timestamp,
    actor: z.string(),
    action: z.string(),
    owner: z.nullable(z.string()),
    key: z.nullable(z.string()),
    version: z.nullable(z.int()),
    outcome: z.string(),
    reason: z.nullable(z.string()),
    requestId: z.nullable(z.string()),
    details: z.record(z.string(), z.unknown()),
    mac: doc(z.string(), "The event's chain MAC, hex: a head to record outside the database (`coffer audit verify --anchor seq:mac`)."),
  }),
  "One audit event.",
  "AuditEvent",
);
export type AuditEventDto = z.infer<typeof AuditEventDto>;

export const AuditPage = doc(
  z.object({ items: z.array(AuditEventDto), nextCursor: z.nullable(z.string()) }),
  "A page of audit events; pass `nextCursor` as `cursor` for the next one (null: last page).",
  "AuditPage",
);
export type AuditPage = z.infer<typeof AuditPage>;

export const AuditVerificationDto = doc(
  z.object({
    ok: z.boolean(),
    events: z.int(),
    headSeq: z.int(),
    headMac: z.string(),
    problems: z.array(z.object({ seq: z.int(), problem: z.string() })),
  }),
  "The result of verifying the audit chain.",
  "AuditVerification",
);
export type AuditVerificationDto = z.infer<typeof AuditVerificationDto>;

export const AuditQuery = z.object({
  owner: z.optional(doc(text(), "Only events about this owner.")),
  action: z.optional(
    doc(
      text().check(z.regex(/^[a-z][a-z.]{0,63}$/, "must be an action name such as secret.reveal")),
      "Only this action (`secret.reveal`).",
    ),
  ),
  cursor: z.optional(CursorQuery),
  limit: z.optional(LimitQuery),
  order: z.optional(
    doc(
      z.enum(["asc", "desc"], "must be asc (oldest first, the default) or desc (newest first)"),
      "`asc`: oldest first (the default); `desc`: newest first.",
    ),
  ),
  after: z.optional(doc(text().check(z.regex(/^\d{1,15}$/, "must be a sequence number")), "Only events after this sequence number.")),
  actor: z.optional(
    doc(
      text().check(z.minLength(1, "must be 1-200 characters"), z.maxLength(200, "must be 1-200 characters")),
      "Only events by this actor, as recorded (`token:<id>`, `local:<user>`).",
    ),
  ),
  since: z.optional(
    doc(text().check(z.maxLength(64, TIME_RULE)), `Only events at or after this time; ${TIME_RULE.replace(/^must be /, "")}.`),
  ),
  until: z.optional(doc(text().check(z.maxLength(64, TIME_RULE)), "Only events before this time (same forms as `since`).")),
});

export const AuditVerifyQuery = z.object({
  anchor: z.optional(doc(text().check(z.maxLength(100, "must be <seq>:<mac>")), "A head recorded earlier, `<seq>:<mac hex>`.")),
});
