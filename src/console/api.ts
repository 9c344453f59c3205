/**
 * The console's link to the server: the session endpoints (`/v1/console/session`) and the
 * public API through the SDK, authenticated by the HttpOnly session cookie (the browser sends
 * it; script never sees it) with the session's CSRF token on every state-changing request.
 * The token pasted at sign-in is sent once and kept nowhere.
 */
import { CofferApiError, CofferClient, type ConsoleSessionDto, type Problem } from "../sdk/index.ts";

export { CofferApiError };
export type Session = ConsoleSessionDto;

let session: Session | null = null;

export function current(): Session | null {
  return session;
}

export function can(scope: "secrets:read" | "secrets:write" | "secrets:reveal" | "audit:read" | "admin"): boolean {
  const s = session?.token.scopes ?? [];
  return s.includes("admin") || s.includes(scope);
}

const sessionFetch: typeof fetch = (input, init = {}) => {
  const headers = new Headers(init.headers);
  const method = (init.method ?? "GET").toUpperCase();
  if (session !== null && method !== "GET" && method !== "HEAD") headers.set("x-coffer-csrf", session.csrf);
  return fetch(input, { ...init, headers, credentials: "same-origin", cache: "no-store", referrerPolicy: "no-referrer" });
};

export const api = new CofferClient({ baseUrl: location.origin, fetch: sessionFetch });

async function call(method: string, body?: unknown): Promise<Session | null> {
  let res: Response;
  try {
    res = await sessionFetch(`${location.origin}/v1/console/session${method === "REAUTH" ? "/reauth" : ""}`, {
      method: method === "REAUTH" ? "POST" : method,
      headers: { accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new CofferApiError("SERVER_UNAVAILABLE", "cannot reach the Coffer server", 0, null);
  }
  if (res.status === 204) return null;
  const json = (await res.json().catch(() => null)) as Partial<Problem> | Session | null;
  if (!res.ok) {
    const p = json as Partial<Problem> | null;
    throw new CofferApiError(p?.code ?? "SERVER_UNAVAILABLE", p?.detail ?? `HTTP ${String(res.status)}`, res.status, null);
  }
  return json as Session;
}

/** The session the cookie stands for, or null when there is none (or it ended). */
export async function resume(): Promise<Session | null> {
  try {
    session = await call("GET");
  } catch (e) {
    if (e instanceof CofferApiError && e.status === 401) session = null;
    else throw e;
  }
  return session;
}

export async function signIn(token: string): Promise<Session> {
  const s = await call("POST", { token });
  if (s === null) throw new CofferApiError("INTERNAL", "no session in the answer", 500, null);
  session = s;
  return s;
}

/** The session's token again, for reveals after the re-authentication window. */
export async function reauthenticate(token: string): Promise<void> {
  session = await call("REAUTH", { token });
}

export async function signOut(): Promise<void> {
  try {
    await call("DELETE");
  } finally {
    session = null;
  }
}

export function forget(): void {
  session = null;
}

/** `[CODE] detail`: every error the console shows carries the stable code (docs/errors.md). */
export function describeError(e: unknown): string {
  if (e instanceof CofferApiError) return `${e.message} [${e.code}]`;
  return `unexpected error: ${e instanceof Error ? e.message : String(e)} [INTERNAL]`;
}
