import {
  parseKeyPrefix,
  Meta,
  MetaKey,
  META_KEY_RULE,
  REASON_REQUIRED_RULE,
  parseKeyName,
  parseOwner,
  parseWith,
  MAX_VALUE_BYTES,
  type KeyName,
  type Owner,
  lazySchema,
} from "../../model/index.ts";
import { invalidInput } from "../../errors/index.ts";
import type { Secret } from "../../secret/index.ts";

/** Raw input, as adapters receive it; parsed once here, at the service boundary. */
export type RefInput = { readonly owner: string; readonly key: string };
export type SecretRef = { readonly owner: Owner; readonly name: KeyName };

// The version rules live in core/model, where the HTTP contract builds on them too.
export { Version, ExpectedVersion } from "../../model/index.ts";
/**
 * Characters refused in text an operator later reads on a terminal (reasons, metadata): C0
 * controls (newline, escape…), DEL, C1 controls, and the bidirectional-text controls that
 * reorder what is displayed ("Trojan Source"), with the line and paragraph separators. Without
 * them a value cannot forge an audit line or drive the terminal.
 */
const UNSAFE_TEXT = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\u2028\u2029]/u;
export const UNSAFE_TEXT_RULE = "must not contain control characters (newline, tab, escape, …) or bidirectional-text controls";
/** Nothing visible: spaces, format characters (zero-width, BOM, bidi marks), controls, blank fillers. */
const INVISIBLE_ONLY = /^[\s\p{Cf}\p{Cc}\p{Zs}\u115F\u1160\u2800\u3164\uFFA0]*$/u;

export function isSafeText(text: string): boolean {
  return !UNSAFE_TEXT.test(text);
}

export const Reason = lazySchema((z) =>
  z.string().check(
    z.trim(),
    z.minLength(1, REASON_REQUIRED_RULE),
    z.maxLength(500, "must be at most 500 chars"),
    z.refine(isSafeText, UNSAFE_TEXT_RULE),
    z.refine((s) => !INVISIBLE_ONLY.test(s), "is required: say why the plaintext is needed, in visible characters"),
  ),
);

/** The rules of `Reason` without zod (every reveal checks one): the trimmed text, or null when it breaks one. */
function validReason(raw: unknown): string | null {
  if (typeof raw !== "string") return null;
  const text = raw.trim();
  return text.length >= 1 && text.length <= 500 && isSafeText(text) && !INVISIBLE_ONLY.test(text) ? text : null;
}

/** @throws CofferError INVALID_INPUT naming `reason` and the first rule it breaks (the schema's message). */
export function parseReason(raw: unknown): string {
  return validReason(raw) ?? parseWith(Reason, raw, "reason");
}

/** The reason as an audit event may record it: the raw text only when it is a valid reason. */
export function auditableReason(raw: string): string | null {
  return validReason(raw);
}
export const OwnerTypeFilter = lazySchema((z) => z.enum(["user", "project", "system"], { error: "must be one of user, project, system" }));
/** A list cursor: only a position (an id), never a scope. */
export const Cursor = lazySchema((z) =>
  z
    .int("must be a cursor from a previous page")
    .check(
      z.minimum(0, "must be a cursor from a previous page"),
      z.maximum(Number.MAX_SAFE_INTEGER, "must be a cursor from a previous page"),
    ),
);
export const Limit = lazySchema((z) =>
  z.int("must be a whole number").check(z.minimum(1, "must be 1 or more"), z.maximum(1000, "must be at most 1000")),
);

export function parseRef(input: RefInput): SecretRef {
  return { owner: parseOwner(input.owner), name: parseKeyName(input.key) };
}

/** @throws CofferError INVALID_INPUT naming `meta` or `meta.<key>`. */
export function parseMeta(meta: unknown): Readonly<Record<string, string>> {
  // A bad key is named in the error; one that would drive the terminal is not echoed.
  if (typeof meta === "object" && meta !== null && Object.keys(meta).some((k) => !isSafeText(k)))
    throw invalidInput("meta", `keys ${UNSAFE_TEXT_RULE}`);
  // A key that breaks the rule is named with the rule (zod's record reports only "Invalid input").
  if (typeof meta === "object" && meta !== null && !Array.isArray(meta))
    for (const k of Object.keys(meta)) if (!MetaKey.safeParse(k).success) throw invalidInput(`meta.${k}`, META_KEY_RULE);
  const parsed = parseWith(Meta, meta, "meta");
  for (const [k, v] of Object.entries(parsed)) if (!isSafeText(v)) throw invalidInput(`meta.${k}`, UNSAFE_TEXT_RULE);
  return parsed;
}

export function parsePrefix(prefix: string | undefined): string {
  return parseKeyPrefix(prefix ?? "");
}

export function checkValueSize(value: Secret): void {
  if (value.byteLength > MAX_VALUE_BYTES) throw invalidInput("value", `must be at most ${String(MAX_VALUE_BYTES)} bytes`);
}
