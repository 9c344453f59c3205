/**
 * The admin console's endpoints (docs/console.md): its session (`/v1/console/session`, an
 * HttpOnly cookie, CSRF token in `X-Coffer-CSRF`), and two API endpoints its pages need: the
 * owners a token can see (`GET /v1/owners`) and retiring a master key
 * (`POST /v1/admin/encryption/retire`).
 */
import * as z from "zod/mini";
import { doc, itemsOf, text, Timestamp } from "./common.ts";

export const ConsoleSignInBody = doc(
  z.object({ token: doc(text().check(z.maxLength(200, "must be a Coffer token")), "An API token (`coffer_…`), sent once.") }),
  "A token to exchange for a console session (or, to re-authenticate, the session's own token again).",
  "ConsoleSignInRequest",
);
export type ConsoleSignInBody = z.infer<typeof ConsoleSignInBody>;

export const ConsoleSessionDto = doc(
  z.object({
    csrf: doc(z.string(), "Send back in `X-Coffer-CSRF` on every state-changing request made with the session cookie."),
    token: z.object({
      id: z.string(),
      name: z.string(),
      scopes: z.array(z.string()),
      owners: z.array(z.string()),
      interactive: z.boolean(),
    }),
    authenticatedAt: doc(Timestamp, "When the token was last presented: interactive tokens' reveals need it within the re-auth window."),
    expiresAt: doc(Timestamp, "The session's absolute end."),
    idleTimeoutSeconds: z.int(),
  }),
  "An admin-console session (the session id itself is only in the HttpOnly cookie).",
  "ConsoleSession",
);
export type ConsoleSessionDto = z.infer<typeof ConsoleSessionDto>;

export const OwnerSummaryDto = doc(
  z.object({ owner: z.string(), secrets: z.int() }),
  "An owner holding live secrets, and how many.",
  "OwnerSummary",
);
export const OwnerList = itemsOf(OwnerSummaryDto);
export type OwnerList = z.infer<typeof OwnerList>;

export const RetireKeyBody = doc(
  z.object({ kid: doc(text().check(z.maxLength(200, "must be a kid")), "The kid to retire: not active, nothing wrapped by it.") }),
  "Retire a master key nothing depends on any more.",
  "RetireKeyRequest",
);
export type RetireKeyBody = z.infer<typeof RetireKeyBody>;

export const RetiredKeyDto = doc(z.object({ kid: z.string(), retiredAt: Timestamp }), "A retired master key.", "RetiredKey");
export type RetiredKeyDto = z.infer<typeof RetiredKeyDto>;
