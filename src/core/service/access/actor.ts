/**
 * Who is acting. The CLI's local mode acts as the operating-system user that runs it (the
 * machine's operator, who holds the master key); the HTTP server acts for a bearer token, with
 * that token's scopes and owner patterns; a one-time share link acts as itself.
 */
export const PERMISSIONS = ["secrets:read", "secrets:write", "secrets:reveal", "audit:read", "admin"] as const;
export type Permission = (typeof PERMISSIONS)[number];

export type LocalActor = { readonly kind: "local"; readonly user: string };
export type TokenActor = {
  readonly kind: "token";
  readonly tokenId: string;
  readonly name: string;
  readonly scopes: readonly Permission[];
  /** Owner patterns: `project/acme`, `project/*`, `user/alice`, `system`, `*`. */
  readonly owners: readonly string[];
  readonly interactive: boolean;
  /** When the token's holder last authenticated (ISO time); what the re-auth hook checks. */
  readonly authenticatedAt: string;
};
export type ShareActor = { readonly kind: "share"; readonly linkId: string };
export type Actor = LocalActor | TokenActor | ShareActor;

/** Nobody: who an audit event names when no credential was accepted (failed authentications). */
export type AnonymousActor = { readonly kind: "anonymous" };
export const ANONYMOUS: AnonymousActor = Object.freeze({ kind: "anonymous" });

export function actorLabel(actor: Actor | AnonymousActor): string {
  switch (actor.kind) {
    case "anonymous":
      return "anonymous";
    case "local":
      return `local:${actor.user}`;
    case "token":
      return `token:${actor.tokenId}`;
    case "share":
      return `share:${actor.linkId}`;
  }
}

/** Where a request came from, for the audit log and the re-auth hook. */
export type RequestContext = {
  readonly requestId: string | null;
  readonly clientAddr: string | null;
  /** Evidence of recent authentication the caller sent (e.g. a one-time code), for the re-auth hook. */
  readonly reauth?: string | null;
};

export const LOCAL_CONTEXT: RequestContext = Object.freeze({ requestId: null, clientAddr: null });
