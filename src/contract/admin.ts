/** Encryption administration (`/v1/admin/encryption…`, admin scope). */
import * as z from "zod/mini";
import { doc, NullableTimestamp, text, Timestamp } from "./common.ts";

export const KidStatusDto = z.object({
  kid: z.string(),
  provider: z.string(),
  fingerprint: z.string(),
  configured: z.boolean(),
  active: z.boolean(),
  createdAt: Timestamp,
  activatedAt: NullableTimestamp,
  retiredAt: NullableTimestamp,
  wrapCount: z.number(),
  nonceBudgetUsed: z.number(),
  rotationDue: z.boolean(),
  rotationDueReason: z.nullable(z.string()),
  safeToRetireAt: NullableTimestamp,
  scopeKeys: z.int(),
  owners: z.int(),
  secretVersions: z.int(),
  internalKeys: z.int(),
});

export const KeyStatusDto = doc(
  z.object({
    active: z.string(),
    keys: z.array(KidStatusDto),
    totals: z.object({ secrets: z.int(), liveSecrets: z.int(), versions: z.int() }),
    legacyRows: z.int(),
    rotationJobs: z.array(
      z.object({
        id: z.string(),
        fromKid: z.nullable(z.string()),
        toKid: z.string(),
        state: z.string(),
        total: z.int(),
        done: z.int(),
        startedAt: Timestamp,
        finishedAt: NullableTimestamp,
      }),
    ),
  }),
  "The master keys, what depends on each, and rotation jobs.",
  "EncryptionStatus",
);
export type KeyStatusDto = z.infer<typeof KeyStatusDto>;

export const RotateEncryptionBody = doc(
  z.object({
    batchSize: z.optional(doc(z.int("must be a whole number"), "Scope keys rewrapped per transaction, 1-10000 (default 500).")),
    kid: z.optional(doc(text(), "Rotate away from this kid (default: the active one).")),
    toKid: z.optional(doc(text(), "Switch to this configured kid instead of minting one.")),
    resume: z.optional(doc(z.boolean("must be true or false"), "Finish an interrupted rotation.")),
  }),
  "Start (or resume) a master key rotation.",
  "RotateEncryptionRequest",
);
export type RotateEncryptionBody = z.infer<typeof RotateEncryptionBody>;

export const RotationStartedDto = doc(
  z.object({
    jobId: z.string(),
    fromKid: z.nullable(z.string()),
    toKid: z.string(),
    minted: z.boolean(),
    done: z.int(),
    total: z.int(),
    state: z.enum(["running", "done"]),
    oldKidSafeToRetireAt: NullableTimestamp,
  }),
  "A rotation job as it started; progress in GET /v1/admin/encryption.",
  "RotationStarted",
);
export type RotationStartedDto = z.infer<typeof RotationStartedDto>;
