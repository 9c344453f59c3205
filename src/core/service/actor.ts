/**
 * Who is acting. The CLI's local mode acts as the operating-system user that runs it; the HTTP
 * server (a later adapter) adds token actors. `label` is what the audit log records.
 */
export type Actor = { readonly kind: "local"; readonly user: string };

export function actorLabel(actor: Actor): string {
  return `local:${actor.user}`;
}

/** Where a request came from, for the audit log. */
export type RequestContext = {
  readonly requestId: string | null;
  readonly clientAddr: string | null;
};

export const LOCAL_CONTEXT: RequestContext = Object.freeze({ requestId: null, clientAddr: null });
