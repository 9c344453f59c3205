/**
 * The administrative endpoints behind the CLI's remote `coffer keys rekey`, `coffer erase`
 * and `coffer secrets check` (`coffer keys retire` uses the console's retire endpoint): all need the `admin` scope, and each is audited, its
 * refusals too. Owners and kids are checked by the core's rules (the same messages as the CLI).
 */
import * as z from "zod/mini";
import { doc, NullableTimestamp, text, Timestamp } from "./common.ts";

export const RekeyOwnerBody = doc(
  z.object({ owner: doc(text(), "`user/<id>`, `project/<id>` or `system`.") }),
  "Give an owner a new scope key.",
  "RekeyOwnerRequest",
);
export type RekeyOwnerRequestDto = z.infer<typeof RekeyOwnerBody>;

export const RekeyOwnerDto = doc(
  z.object({ owner: z.string(), scopeKeyId: z.string(), rewrapped: z.int(), retiredScopeKeys: z.int() }),
  "The owner's new scope key and how many data keys were rewrapped under it.",
  "RekeyedOwner",
);
export type RekeyOwnerDto = z.infer<typeof RekeyOwnerDto>;

export const EraseOwnerBody = doc(
  z.object({
    owner: doc(text(), "`user/<id>`, `project/<id>` or `system`."),
    confirm: doc(text(), "The owner again, exactly: nothing else confirms an erase."),
    backupRetention: z.optional(
      doc(text(), "How long database backups are kept (`30d`, `12h`, `90m`); default: the server's COFFER_BACKUP_RETENTION."),
    ),
  }),
  "Crypto-erase an owner for good.",
  "EraseOwnerRequest",
);
export type EraseOwnerRequestDto = z.infer<typeof EraseOwnerBody>;

export const EraseReportDto = doc(
  z.object({
    owner: z.string(),
    erasedAt: Timestamp,
    secrets: z.int(),
    versions: z.int(),
    scopeKeys: z.int(),
    kids: z.array(z.string()),
    liveDatabase: NullableTimestamp,
    scrub: z.object({ complete: z.boolean(), detail: z.string() }),
    backups: z.object({
      backupRetention: z.nullable(z.string()),
      agedOutAt: NullableTimestamp,
      kidRetiredAt: NullableTimestamp,
      unrecoverableEverywhereAt: NullableTimestamp,
    }),
  }),
  "What was erased, and from when it is unrecoverable in the live database and in backups.",
  "EraseReport",
);
export type EraseReportDto = z.infer<typeof EraseReportDto>;

export const ValueCheckQuery = z.object({ owner: z.optional(doc(text(), "Only this owner's secrets (default: every owner).")) });
export type ValueCheckQuery = z.infer<typeof ValueCheckQuery>;

const CheckedSecret = z.object({ owner: z.string(), key: z.string(), version: z.int() });
export const ValueCheckDto = doc(
  z.object({
    secrets: z.int(),
    reused: z.array(z.object({ secrets: z.array(CheckedSecret) })),
    drift: z.array(z.object({ key: z.string(), owners: z.array(z.string()), distinctValues: z.int() })),
    unchecked: z.array(CheckedSecret),
  }),
  "Values reused across owners, drift of one key across owners, versions without an HMAC: found by HMACs, nothing decrypted.",
  "ValueCheck",
);
export type ValueCheckDto = z.infer<typeof ValueCheckDto>;
