/** Secrets: CRUD, versions, reveals, one-time links, rotation and generation (`/v1/secrets…`, `/v1/shared…`). */
import * as z from "zod/mini";
import {
  CursorQuery,
  doc,
  itemsOf,
  LimitQuery,
  MetaIn,
  MetaOut,
  NullableTimestamp,
  ReasonIn,
  text,
  Timestamp,
  VersionIn,
  WholeNumberQuery,
} from "./common.ts";

/** A secret as every non-reveal endpoint returns it: metadata and a mask, never the value. */
export const SecretDto = doc(
  z.object({
    owner: z.string(),
    key: z.string(),
    version: doc(z.int(), "The version this is of (`?version=N`: N)."),
    currentVersion: doc(
      z.int(),
      "The secret's current version. Metadata and times belong to the secret, not to a version: for an older `version` they are still the current ones.",
    ),
    value: z.literal("********"),
    meta: MetaOut,
    createdAt: Timestamp,
    updatedAt: Timestamp,
    lastRotatedAt: NullableTimestamp,
    deletedAt: NullableTimestamp,
  }),
  "A secret's metadata with its value masked.",
  "Secret",
);
export type SecretDto = z.infer<typeof SecretDto>;

/** A revealed secret: `value` when the bytes are UTF-8, otherwise `valueBase64`. */
export const RevealedDto = doc(
  z.object({
    ...SecretDto.def.shape,
    value: z.nullable(doc(z.string(), "The value when it is UTF-8 text; null otherwise (then `valueBase64`).")),
    valueBase64: z.optional(doc(z.string(), "The value's bytes, base64, when they are not UTF-8.")),
  }),
  "A secret with its plaintext value.",
  "RevealedSecret",
);
export type RevealedDto = z.infer<typeof RevealedDto>;

export const VersionDto = doc(
  z.object({ version: z.int(), current: z.boolean(), createdAt: Timestamp, createdBy: z.string(), destroyedAt: NullableTimestamp }),
  "One version of a secret.",
  "SecretVersion",
);
export type VersionDto = z.infer<typeof VersionDto>;
export const VersionList = itemsOf(VersionDto);

export const SecretPage = doc(
  z.object({ items: z.array(SecretDto), nextCursor: z.nullable(z.string()) }),
  "A page of secrets; pass `nextCursor` as `cursor` for the next one (null: last page).",
  "SecretPage",
);
export type SecretPage = z.infer<typeof SecretPage>;

/** `POST /v1/secrets/:ownerType/:ownerId:reveal`: every live secret of an owner, for `coffer run`. */
export const RevealAllDto = doc(
  z.object({
    owner: z.string(),
    secrets: doc(z.record(z.string(), z.string()), "Key name to value, for values that are UTF-8 text."),
    binary: doc(z.array(z.string()), "Key names whose values are not UTF-8 text (not returned)."),
  }),
  "Every live secret of an owner in plaintext.",
  "RevealedOwner",
);
export type RevealAllDto = z.infer<typeof RevealAllDto>;

export const ShareDto = doc(
  z.object({
    id: z.string(),
    token: doc(z.string(), "The one-time token: give it to the recipient; `POST /v1/shared/<token>:reveal` redeems it."),
    url: z.string(),
    expiresAt: Timestamp,
    secret: SecretDto,
  }),
  "A one-time reveal link.",
  "ShareLink",
);
export type ShareDto = z.infer<typeof ShareDto>;

export const GenerateResultDto = doc(
  z.object({ secret: SecretDto, created: doc(z.boolean(), "False when `ifMissing` found an existing secret.") }),
  "The secret as it now is, and whether this call created the version.",
  "GenerateResult",
);
export type GenerateResultDto = z.infer<typeof GenerateResultDto>;

// Requests

export const ListSecretsQuery = z.object({
  ownerType: z.optional(doc(z.string(), "Only owners of this type (`user`, `project`, `system`).")),
  ownerId: z.optional(doc(z.string(), "With `ownerType`: only this owner (`_` for system).")),
  prefix: z.optional(doc(z.string(), "Only key names starting with this.")),
  cursor: z.optional(CursorQuery),
  limit: z.optional(LimitQuery),
  deleted: z.optional(doc(z.enum(["true", "false"], { error: "must be true or false" }), "Include deleted secrets.")),
});

export const VersionQuery = z.object({ version: z.optional(doc(WholeNumberQuery, "A version other than the current one.")) });

/** `PUT` a secret: exactly one of `value` (text) and `valueBase64` (bytes). */
export const PutSecretBody = doc(
  z.object({
    value: z.optional(doc(text(), "The value as UTF-8 text.")),
    valueBase64: z.optional(doc(text(), "The value's bytes, base64 (at most 64 KiB decoded).")),
    meta: z.optional(MetaIn),
  }),
  "A new version of a secret: exactly one of `value` and `valueBase64`.",
  "PutSecretRequest",
);
export type PutSecretBody = z.infer<typeof PutSecretBody>;

export const RevealBody = doc(z.object({ reason: ReasonIn, version: z.optional(VersionIn) }), "A reveal.", "RevealRequest");
export type RevealBody = z.infer<typeof RevealBody>;

export const ShareBody = doc(
  z.object({
    reason: ReasonIn,
    version: z.optional(VersionIn),
    ttl: z.optional(doc(text(), "How long the link lives, e.g. `15m`, `2h`, `7d` (default 15m, at most 7d).")),
  }),
  "A one-time link.",
  "ShareRequest",
);
export type ShareBody = z.infer<typeof ShareBody>;

export const RotateSecretBody = doc(
  z.object({ regenerate: z.optional(doc(z.boolean("must be true or false"), "A fresh random value with the kept generator policy.")) }),
  "Rotate a secret: new data keys (or, with `regenerate`, a new value).",
  "RotateSecretRequest",
);
export type RotateSecretBody = z.infer<typeof RotateSecretBody>;

/**
 * `POST …/:keyName:generate`: a random value from the server's CSPRNG (default 32 `alnum`
 * characters), never returned; its policy is kept in the metadata tag `coffer.generator`.
 */
export const GenerateBody = doc(
  z.object({
    length: z.optional(doc(z.int("must be a whole number"), "Characters (default 32).")),
    charset: z.optional(doc(text(), "`alnum`, `alnum-symbols`, `hex`, `base64url`, `digits` or `custom:<chars>`.")),
    bytes: z.optional(doc(z.int("must be a whole number"), "Random bytes instead of characters, encoded with `encoding`.")),
    encoding: z.optional(doc(text(), "`hex`, `base64` or `base64url` (with `bytes`).")),
    ifMissing: z.optional(doc(z.boolean("must be true or false"), "Create only when the secret does not exist.")),
    meta: z.optional(MetaIn),
  }),
  "A generated value.",
  "GenerateRequest",
);
export type GenerateRequestDto = z.infer<typeof GenerateBody>;

export const RevealOwnerBody = doc(
  z.object({ reason: ReasonIn, prefix: z.optional(doc(text(), "Only key names starting with this.")) }),
  "Reveal every live secret of an owner.",
  "RevealOwnerRequest",
);
export type RevealOwnerBody = z.infer<typeof RevealOwnerBody>;

export const SharedRevealBody = z.object({});
