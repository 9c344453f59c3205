import { isKid, KID_RULE, type Kid } from "../model/index.ts";

/**
 * The rule of one `COFFER_*` variable: the message when its text breaks it, or null. The
 * variables are flat strings, so a table of rules checks them without a schema library (the
 * configuration is read on every `coffer run`, whose start-up is a target: docs/benchmarks.md).
 */
export type EnvRule<T extends string = string> = {
  readonly check: (text: string) => string | null;
  /** The parsed type, for `EnvOf` only. */
  readonly type?: T;
};

/** Any text, the empty string too. */
export const anyText: EnvRule = { check: () => null };
export const nonEmptyText: EnvRule = { check: (text) => (text.length > 0 ? null : "must not be empty") };

export function matching(pattern: RegExp, message: string): EnvRule {
  return { check: (text) => (pattern.test(text) ? null : message) };
}

export function oneOf<const T extends string>(values: readonly T[], message: string): EnvRule<T> {
  return { check: (text) => ((values as readonly string[]).includes(text) ? null : message) };
}

export const kidText: EnvRule<Kid> = { check: (text) => (isKid(text) ? null : KID_RULE) };

export type EnvRules = Readonly<Record<string, EnvRule>>;
/** The variables a table of rules reads, each absent or valid. */
export type EnvOf<R extends EnvRules> = { readonly [K in keyof R]?: R[K] extends EnvRule<infer T> ? T : never };

export type EnvIssue = { readonly field: string; readonly message: string };

/**
 * The variables of `rules` found in `env` (others are left out), or every one that breaks its
 * rule, in the table's order.
 */
export function checkEnv<R extends EnvRules>(
  rules: R,
  env: Readonly<Record<string, string | undefined>>,
): { readonly ok: true; readonly env: EnvOf<R> } | { readonly ok: false; readonly issues: readonly EnvIssue[] } {
  const out: Record<string, string> = {};
  const issues: EnvIssue[] = [];
  for (const [field, rule] of Object.entries(rules)) {
    const text = env[field];
    if (text === undefined) continue;
    const message = rule.check(text);
    if (message === null) out[field] = text;
    else issues.push({ field, message });
  }
  return issues.length === 0 ? { ok: true, env: out as EnvOf<R> } : { ok: false, issues };
}
