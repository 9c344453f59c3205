/**
 * The catalog of stable error codes. Append-only: a code, once released, keeps its meaning
 * forever and is never reused. `docs/errors.md` documents each one; `errors.test.ts` keeps the
 * two in sync.
 */
export const CODES = [
  "INVALID_INPUT",
  "USAGE",
  "NOT_FOUND",
  "CONFLICT",
  "SCOPE_DENIED",
  "CONFIRMATION_REQUIRED",
  "KEY_NOT_FOUND",
  "KEY_INVALID",
  "KEY_MISMATCH",
  "KEY_UNAVAILABLE",
  "CIPHERTEXT_MALFORMED",
  "UNSUPPORTED_ALGORITHM",
  "DECRYPT_FAILED",
  "AUDIT_FAILED",
  "AUDIT_CHAIN_BROKEN",
  "CONFIG_INVALID",
  "SCHEMA_TOO_NEW",
  "MIGRATIONS_PENDING",
  "STORE_BUSY",
  "STORE_UNAVAILABLE",
  "KEY_RETIRED",
  "MAC_MISMATCH",
  "UNAUTHENTICATED",
  "REAUTH_REQUIRED",
  "RATE_LIMITED",
  "IDEMPOTENCY_MISMATCH",
  "SHARE_LINK_INVALID",
  "SERVER_UNAVAILABLE",
  "KEY_THROTTLED",
  "KEY_ACCESS_DENIED",
  "KEY_DISABLED",
  "PLAINTEXT_REFUSED",
  "ENV_NAME_REFUSED",
  "VALUE_NOT_ENV_SAFE",
  "STORE_CORRUPT",
  "STATE_TAMPERED",
  "KEY_CANNOT_MINT",
  "CSRF_REFUSED",
  "LISTEN_FAILED",
  "INTERNAL",
] as const;

export type ErrorCode = (typeof CODES)[number];

/** Codes that were released once and retired; they must never come back. */
export const RETIRED_CODES: readonly string[] = Object.freeze([]);
