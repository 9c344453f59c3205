import type { FastifyReply, FastifyRequest } from "fastify";
import { PROBLEM_CONTENT_TYPE, type Problem } from "../contract/index.ts";
import { CofferError, isCofferError, type ErrorCode } from "../core/errors/index.ts";

/** HTTP status by error code: a `Record`, so a new code without a status does not compile. docs/errors.md lists them. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  INVALID_INPUT: 400,
  USAGE: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  SCOPE_DENIED: 403,
  CONFIRMATION_REQUIRED: 428,
  KEY_NOT_FOUND: 500,
  KEY_INVALID: 500,
  KEY_MISMATCH: 500,
  KEY_RETIRED: 500,
  KEY_UNAVAILABLE: 503,
  KEY_THROTTLED: 503,
  KEY_ACCESS_DENIED: 503,
  KEY_DISABLED: 503,
  PLAINTEXT_REFUSED: 400,
  ENV_NAME_REFUSED: 400,
  VALUE_NOT_ENV_SAFE: 400,
  STATE_TAMPERED: 500,
  KEY_CANNOT_MINT: 409,
  CSRF_REFUSED: 403,
  LISTEN_FAILED: 503,
  CIPHERTEXT_MALFORMED: 500,
  UNSUPPORTED_ALGORITHM: 500,
  DECRYPT_FAILED: 500,
  MAC_MISMATCH: 500,
  AUDIT_FAILED: 503,
  AUDIT_CHAIN_BROKEN: 500,
  CONFIG_INVALID: 500,
  SCHEMA_TOO_NEW: 503,
  MIGRATIONS_PENDING: 503,
  STORE_BUSY: 503,
  STORE_UNAVAILABLE: 503,
  STORE_CORRUPT: 500,
  UNAUTHENTICATED: 401,
  REAUTH_REQUIRED: 401,
  RATE_LIMITED: 429,
  IDEMPOTENCY_MISMATCH: 422,
  SHARE_LINK_INVALID: 410,
  SERVER_UNAVAILABLE: 503,
  INTERNAL: 500,
});

const TITLES: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  428: "Precondition Required",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/**
 * Framework errors (bad JSON, a body too large, a wrong content type) as CofferErrors with a
 * message of our own: their messages can quote the request body, so they are never passed on.
 */
function fromFramework(e: { statusCode?: number; code?: string }): CofferError {
  const status = e.statusCode ?? 500;
  if (status === 413) return new CofferError("INVALID_INPUT", "body: must be at most 256 KiB", { field: "body" });
  if (status === 415) return new CofferError("INVALID_INPUT", "Content-Type: must be application/json", { field: "Content-Type" });
  if (status === 400 && e.code === "FST_ERR_CTP_EMPTY_JSON_BODY")
    return new CofferError("INVALID_INPUT", "body: must not be empty for Content-Type application/json", { field: "body" });
  if (status >= 400 && status < 500) return new CofferError("INVALID_INPUT", "body: must be valid JSON", { field: "body" });
  return new CofferError("INTERNAL", "internal error");
}

export function toCofferError(e: unknown): CofferError {
  if (isCofferError(e)) return e;
  if (typeof e === "object" && e !== null && "statusCode" in e) return fromFramework(e as { statusCode?: number; code?: string });
  return new CofferError("INTERNAL", "internal error");
}

export function problemOf(err: CofferError, requestId: string): Problem {
  const status = HTTP_STATUS[err.code];
  const field = typeof err.details["field"] === "string" ? err.details["field"] : undefined;
  const retryAfter = typeof err.details["retryAfter"] === "number" ? err.details["retryAfter"] : undefined;
  return {
    type: `https://coffer.invalid/errors/${err.code}`,
    title: TITLES[status] ?? "Error",
    status,
    code: err.code,
    // INTERNAL: a generic message; the cause is logged (ids and codes only).
    detail: err.code === "INTERNAL" ? "internal error; the server log has the request id" : err.message,
    requestId,
    ...(field === undefined ? {} : { field }),
    ...(retryAfter === undefined ? {} : { retryAfter }),
  };
}

export function sendProblem(req: FastifyRequest, reply: FastifyReply, err: CofferError): FastifyReply {
  const p = problemOf(err, req.id);
  if (p.retryAfter !== undefined) void reply.header("retry-after", String(p.retryAfter));
  if (p.status === 401) void reply.header("www-authenticate", 'Bearer realm="coffer"');
  return reply.code(p.status).header("content-type", PROBLEM_CONTENT_TYPE).header("cache-control", "no-store").send(p);
}
