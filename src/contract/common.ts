/**
 * Building blocks of the contract: the problem document, owners and key names as the API's
 * path segments, timestamps, and a `doc` helper that attaches OpenAPI descriptions. Request
 * rules and their messages come from core/model, so a mistake reads the same over HTTP as in
 * the CLI.
 */
import * as z from "zod/mini";
import { CODES } from "../core/errors/index.ts";
import {
  KEY_NAME_RULE,
  KeyName,
  META_TYPE_RULE,
  META_VALUE_TYPE_RULE,
  provideZod,
  REASON_REQUIRED_RULE,
  Version,
} from "../core/model/index.ts";

// The core's schemas (KeyName, Version…) are built on first use with zod/mini: this one, which
// the contract imports anyway (in a browser, the SDK's contract has no other way to reach it).
provideZod(z);

/** Descriptions, examples and component names for the OpenAPI document (not used to validate). */
export const contractRegistry = z.registry<{ id?: string; description?: string; example?: unknown }>();

/** Attaches an OpenAPI description (and optionally a component name) to a schema. */
export function doc<T extends z.ZodMiniType>(schema: T, description: string, id?: string): T {
  contractRegistry.add(schema, id === undefined ? { description } : { id, description });
  return schema;
}

/** A string field; a missing or non-string value reads `<field>: <rule>`. */
export function text(rule = "must be text"): z.ZodMiniString<string> {
  return z.string(rule);
}

export const Timestamp = doc(z.string(), "An RFC 3339 timestamp (UTC).");
export const NullableTimestamp = z.nullable(Timestamp);

/** Metadata tags as sent: their rules (key shape, value length, count, no control characters) are the service's. */
export const MetaIn = doc(
  z.record(z.string(), z.string(META_VALUE_TYPE_RULE), META_TYPE_RULE),
  "Metadata tags: at most 32; keys 1-64 chars of lower-case letters, digits, '_', '.', '-' starting with a letter; values at most 256 chars, no control characters.",
);
export const MetaOut = z.record(z.string(), z.string());

/** A version number in a body; the same rule and messages as the service's. */
export const VersionIn = doc(Version, "A version number (1 or more).");

/** `?version=3` and the like: query values are text; the number's range is checked by the service. */
export const WholeNumberQuery = z.string().check(z.regex(/^\d{1,9}$/, "must be a whole number"));
export const CursorQuery = doc(
  z.string().check(z.regex(/^\d{1,15}$/, "must be a cursor from a previous page")),
  "The `nextCursor` of the previous page.",
);
export const LimitQuery = doc(
  z.string().check(z.regex(/^\d{1,4}$/, "must be a whole number from 1 to 1000")),
  "Page size, 1-1000 (default 100).",
);

/** The reason recorded with a reveal: required here; its content rules are checked (and a refusal audited) by the service. */
export const ReasonIn = doc(
  z.string(REASON_REQUIRED_RULE),
  "Why the plaintext is needed (recorded in the audit log): 1-500 visible characters, no control or bidirectional-text characters. A refused reason is audited as a denial.",
);

// Path parameters (their rules are the owner's and the key name's; see ownerFromSegments on the server).
export const OwnerTypeParam = doc(z.enum(["user", "project", "system"]), "The owner's type.");
export const OwnerIdParam = doc(
  z.string(),
  "The owner's id: 1-64 chars of letters, digits, '.', '_', '-', starting with a letter or digit; `_` for the system owner.",
);
export const KeyNameParam = doc(KeyName, `A key name: ${KEY_NAME_RULE}.`);

export const ErrorCode = z.enum(CODES);

/** RFC 9457 problem details, with Coffer's stable error `code` (docs/errors.md). */
export const Problem = doc(
  z.object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    code: doc(ErrorCode, "The stable error code (docs/errors.md)."),
    detail: doc(z.string(), "What went wrong, naming the field and the rule for bad input; the same text the CLI prints."),
    requestId: z.optional(z.string()),
    field: z.optional(doc(z.string(), "The field that broke a rule (`owner`, `key`, `reason`, `meta.env`, …).")),
    retryAfter: z.optional(doc(z.int(), "Seconds to wait, on RATE_LIMITED.")),
  }),
  "RFC 9457 problem details with Coffer's stable error code.",
  "Problem",
);
export type Problem = z.infer<typeof Problem>;

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** A schema's type as callers hold it: readonly all the way down (the core's views are). */
export type ReadonlyDeep<T> = T extends readonly (infer U)[]
  ? readonly ReadonlyDeep<U>[]
  : T extends object
    ? { readonly [K in keyof T]: ReadonlyDeep<T[K]> }
    : T;

/** `{ items: [...] }`. */
export function itemsOf<T extends z.ZodMiniType>(item: T): z.ZodMiniObject<{ items: z.ZodMiniArray<T> }> {
  return z.object({ items: z.array(item) });
}
