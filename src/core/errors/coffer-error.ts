import type { ErrorCode } from "./codes.ts";

/**
 * Ids, field names, counts: never a value, a key, or a prefix or unkeyed hash of either.
 */
export type ErrorDetails = Readonly<Record<string, string | number | boolean | readonly string[]>>;

/**
 * The one error class of Coffer. `message` is safe to show a user and to log; `details`
 * carries ids and field names only.
 */
export class CofferError extends Error {
  override readonly name = "CofferError";
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.details = details;
  }
}

export function isCofferError(e: unknown): e is CofferError {
  return e instanceof CofferError;
}

/** A validation failure for one field: names the field and the rule it broke. */
export function invalidInput(field: string, rule: string): CofferError {
  return new CofferError("INVALID_INPUT", `${field}: ${rule}`, { field });
}

export function assertNever(x: never): never {
  throw new CofferError("INTERNAL", `unexpected variant ${String((x as { kind?: unknown }).kind)}`);
}
