import type { ErrorCode } from "../core/errors/index.ts";

/**
 * Exit statuses by error code: a `Record`, so a new code without a status does not compile.
 * Documented in docs/errors.md. `coffer run` exits with its child's status instead.
 */
export const EXIT_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  INTERNAL: 1,
  INVALID_INPUT: 2,
  USAGE: 2,
  CONFIG_INVALID: 2,
  CONFIRMATION_REQUIRED: 2,
  NOT_FOUND: 3,
  KEY_NOT_FOUND: 4,
  KEY_INVALID: 4,
  KEY_MISMATCH: 4,
  KEY_UNAVAILABLE: 4,
  CIPHERTEXT_MALFORMED: 4,
  UNSUPPORTED_ALGORITHM: 4,
  DECRYPT_FAILED: 4,
  CONFLICT: 5,
  SCOPE_DENIED: 6,
  AUDIT_FAILED: 7,
  AUDIT_CHAIN_BROKEN: 7,
  SCHEMA_TOO_NEW: 8,
  MIGRATIONS_PENDING: 8,
  STORE_BUSY: 9,
  STORE_UNAVAILABLE: 9,
  KEY_RETIRED: 4,
  MAC_MISMATCH: 4,
  UNAUTHENTICATED: 6,
  REAUTH_REQUIRED: 6,
  RATE_LIMITED: 9,
  IDEMPOTENCY_MISMATCH: 5,
  SHARE_LINK_INVALID: 3,
  SERVER_UNAVAILABLE: 9,
  KEY_THROTTLED: 4,
  KEY_ACCESS_DENIED: 4,
  KEY_DISABLED: 4,
  PLAINTEXT_REFUSED: 2,
  KEY_CANNOT_MINT: 4,
});
