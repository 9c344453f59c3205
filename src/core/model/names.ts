// zod/mini: the same validation as zod with a fraction of its start-up cost (the CLI starts
// on every `coffer run`), loaded and built on first use (zod-lazy.ts).
import type * as z from "zod/mini";
import { invalidInput } from "../errors/index.ts";
import { lazySchema } from "./zod-lazy.ts";

/** Like an environment variable name, plus `.` and `-` (for folders by prefix); ≤ 128 chars. */
export const KEY_NAME_RULE = "must start with a letter or '_' and contain only letters, digits, '_', '.', '-' (at most 128 chars)";
const KEY_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
export const KeyName = lazySchema((z) => z.string().check(z.regex(KEY_NAME, KEY_NAME_RULE)).brand<"KeyName">());
export type KeyName = z.infer<typeof KeyName>;

/** A key id in the keyring: letters, digits, `.`, `_`, `-`; ≤ 64 chars. */
export const KID_RULE = "must be 1-64 chars of letters, digits, '.', '_', '-', starting with a letter or digit";
const KID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const Kid = lazySchema((z) => z.string().check(z.regex(KID, KID_RULE)).brand<"Kid">());
export type Kid = z.infer<typeof Kid>;

/** A version number of a secret, and an expected one for check-and-set (0: must not exist yet). */
export const Version = lazySchema((z) =>
  z.int("must be a whole number").check(z.minimum(1, "must be 1 or more"), z.maximum(2 ** 31 - 1, "is too large")),
);
export const ExpectedVersion = lazySchema((z) =>
  z.int("must be a whole number").check(z.minimum(0, "must be 0 (must not exist) or more"), z.maximum(2 ** 31 - 1, "is too large")),
);

/** What a reveal without a reason is told (the service's rule; the HTTP contract says the same). */
export const REASON_REQUIRED_RULE = "is required: say why the plaintext is needed";

/** Values are bytes, at most 64 KiB. */
export const MAX_VALUE_BYTES = 64 * 1024;

/** Metadata: at most 32 string tags; keys like `provider`, values ≤ 256 chars. */
export const MAX_META_ENTRIES = 32;
export const META_KEY_RULE = "must be 1-64 chars of lower-case letters, digits, '_', '.', '-', starting with a letter";
/** The messages for metadata of the wrong type: the HTTP contract says the same. */
export const META_TYPE_RULE = "must be an object of tags (name: text)";
export const META_VALUE_TYPE_RULE = "must be text";
export const MetaKey = lazySchema((z) => z.string().check(z.regex(/^[a-z][a-z0-9_.-]{0,63}$/, META_KEY_RULE)));
export const Meta = lazySchema((z) =>
  z
    .record(MetaKey, z.string(META_VALUE_TYPE_RULE).check(z.maxLength(256, "must be at most 256 chars")), META_TYPE_RULE)
    .check(z.refine((m) => Object.keys(m).length <= MAX_META_ENTRIES, `must have at most ${String(MAX_META_ENTRIES)} entries`)),
);
export type Meta = Readonly<Record<string, string>>;

/** A `prefix` filter: any leading part of a key name. */
const KEY_PREFIX = /^[A-Za-z0-9_.-]{0,128}$/;
export const KeyPrefix = lazySchema((z) =>
  z.string().check(z.regex(KEY_PREFIX, "must contain only letters, digits, '_', '.', '-' (at most 128 chars)")),
);

// The checks below are the schemas' own regular expressions, without zod (on `coffer run`'s path).

export function isKeyName(text: unknown): text is KeyName {
  return typeof text === "string" && KEY_NAME.test(text);
}

export function isKid(text: unknown): text is Kid {
  return typeof text === "string" && KID.test(text);
}

/** A valid `prefix` as is; anything else through the schema (its error). */
export function parseKeyPrefix(prefix: unknown, field = "prefix"): string {
  return typeof prefix === "string" && KEY_PREFIX.test(prefix) ? prefix : parseWith(KeyPrefix, prefix, field);
}

export function parseKeyName(text: string, field = "key"): KeyName {
  if (!isKeyName(text)) throw invalidInput(field, KEY_NAME_RULE);
  return text;
}

export function parseKid(text: string, field = "kid"): Kid {
  if (!isKid(text)) throw invalidInput(field, KID_RULE);
  return text;
}

/** Parses with a zod schema; the first issue becomes INVALID_INPUT naming the field path. */
export function parseWith<T>(schema: z.ZodMiniType<T>, input: unknown, field: string): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue && issue.path.length > 0 ? `${field}.${issue.path.map(String).join(".")}` : field;
  throw invalidInput(path, issue?.message ?? "is invalid");
}
