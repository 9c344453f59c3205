/**
 * The admin console's endpoints (docs/console.md): request schemas (zod) and response types.
 * The session endpoints live under `/v1/console/session`; `GET /v1/owners` and
 * `POST /v1/admin/encryption/retire` are ordinary API endpoints the console's pages use.
 */
import * as z from "zod/mini";

/** `POST /v1/console/session`: sign in with a token (exchanged for an HttpOnly session cookie). */
export const ConsoleSignInBody = z.object({ token: z.string().check(z.maxLength(200, "must be a Coffer token")) });
/** `POST /v1/console/session/reauth`: the session's own token again, for reveals after the re-auth window. */
export const ConsoleReauthBody = ConsoleSignInBody;
/** `POST /v1/admin/encryption/retire`. */
export const RetireBody = z.object({ kid: z.string().check(z.maxLength(200, "must be a kid")) });

export type ConsoleSessionDto = {
  /** Send back in `X-Coffer-CSRF` on every state-changing request. */
  readonly csrf: string;
  readonly token: {
    readonly id: string;
    readonly name: string;
    readonly scopes: readonly string[];
    readonly owners: readonly string[];
    readonly interactive: boolean;
  };
  /** When the token was last presented: reveals need it within the re-auth window (interactive tokens). */
  readonly authenticatedAt: string;
  /** The session's absolute end. */
  readonly expiresAt: string;
  readonly idleTimeoutSeconds: number;
};

export type OwnersDto = { readonly items: readonly { readonly owner: string; readonly secrets: number }[] };

export type RetireDto = { readonly kid: string; readonly retiredAt: string };

/** `GET /v1/admin/encryption`. */
export type EncryptionStatusDto = {
  readonly active: string;
  readonly keys: readonly {
    readonly kid: string;
    readonly provider: string;
    readonly fingerprint: string;
    readonly configured: boolean;
    readonly active: boolean;
    readonly createdAt: string;
    readonly activatedAt: string | null;
    readonly retiredAt: string | null;
    readonly wrapCount: number;
    readonly nonceBudgetUsed: number;
    readonly rotationDue: boolean;
    readonly rotationDueReason: string | null;
    readonly safeToRetireAt: string | null;
    readonly scopeKeys: number;
    readonly owners: number;
    readonly secretVersions: number;
    readonly internalKeys: number;
  }[];
  readonly totals: { readonly secrets: number; readonly liveSecrets: number; readonly versions: number };
  readonly legacyRows: number;
  readonly rotationJobs: readonly {
    readonly id: string;
    readonly fromKid: string | null;
    readonly toKid: string;
    readonly state: string;
    readonly total: number;
    readonly done: number;
    readonly startedAt: string;
    readonly finishedAt: string | null;
  }[];
};
