import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ConsoleSessionDto, ConsoleSignInBody, OwnerList, RetiredKeyDto, RetireKeyBody } from "../contract/index.ts";
import { CofferError } from "../core/errors/index.ts";
import type { Core, TokenActor } from "../core/service/index.ts";
import { body, output } from "./contract-io.ts";
import { actorOf, ctxOf } from "./routes-secrets.ts";

/** The admin console's session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS). */
export const SESSION_COOKIE = "coffer_session";
/** The header a cookie-authenticated state-changing request carries its CSRF token in. */
export const CSRF_HEADER = "x-coffer-csrf";

/**
 * Sent with every response (API and console): scripts, styles and requests only from this
 * origin, nothing inline, no eval, no framing, no HTML sinks (Trusted Types with no policy).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** The console's client-side pages; each answers with the same index.html. */
const PAGES = ["", "signin", "encryption", "secrets", "audit", "tokens"] as const;
const ASSET_TYPES: Readonly<Record<string, string>> = {
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
};

export function setSecurityHeaders(reply: FastifyReply): void {
  void reply.header("content-security-policy", CONTENT_SECURITY_POLICY);
  void reply.header("x-content-type-options", "nosniff");
  void reply.header("referrer-policy", "no-referrer");
  void reply.header("x-frame-options", "DENY");
  void reply.header("cross-origin-opener-policy", "same-origin");
  void reply.header("cross-origin-resource-policy", "same-origin");
}

/**
 * The session id from the Cookie header, or null. More than one session cookie is refused: a
 * cookie planted with a narrower Path (by another site on this host) is sent first, and taking
 * it would work the user inside someone else's session.
 * @throws CofferError UNAUTHENTICATED when the header carries two different session cookies.
 */
export function sessionIdOf(req: FastifyRequest): string | null {
  const header = req.headers.cookie;
  if (typeof header !== "string") return null;
  let found: string | null = null;
  for (const part of header.split(";")) {
    const at = part.indexOf("=");
    if (at <= 0 || part.slice(0, at).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(at + 1).trim();
    if (found !== null && found !== value)
      throw new CofferError(
        "UNAUTHENTICATED",
        `the request carries more than one ${SESSION_COOKIE} cookie; sign out, clear this site's cookies and sign in again`,
      );
    found = value;
  }
  return found;
}

/**
 * Refuses a request another origin sent: its `Origin` (when sent) must be this server's own,
 * and `Sec-Fetch-Site` (when sent) `same-origin`.
 * @throws CofferError CSRF_REFUSED.
 */
export function requireSameOrigin(req: FastifyRequest): void {
  const origin = req.headers.origin;
  if (typeof origin === "string" && origin !== `${req.protocol}://${req.host}`)
    throw new CofferError(
      "CSRF_REFUSED",
      `cross-origin request refused: Origin ${JSON.stringify(origin.slice(0, 100))} is not this server`,
    );
  const site = req.headers["sec-fetch-site"];
  if (typeof site === "string" && site !== "same-origin")
    throw new CofferError("CSRF_REFUSED", `cross-site request refused: Sec-Fetch-Site is ${JSON.stringify(site.slice(0, 20))}`);
}

/**
 * The actor of a request that carries a console session cookie (and no bearer token), or null
 * when it carries none. A state-changing request must come from this origin with the session's
 * CSRF token in `X-Coffer-CSRF`.
 * @throws CofferError CSRF_REFUSED, UNAUTHENTICATED (ended, expired, or its token revoked).
 */
export async function sessionActor(core: Core, req: FastifyRequest): Promise<TokenActor | null> {
  const id = sessionIdOf(req);
  if (id === null) return null;
  if (!SAFE_METHODS.has(req.method)) {
    requireSameOrigin(req);
    const given = req.headers[CSRF_HEADER];
    if (typeof given !== "string" || !core.sessions.csrfMatches(id, given))
      throw new CofferError("CSRF_REFUSED", `request refused: a console session's ${CSRF_HEADER} header is missing or wrong`);
  }
  return (await core.sessions.resolve(id)).actor;
}

function cookie(req: FastifyRequest, value: string, maxAgeS: number): string {
  const secure = req.protocol === "https" ? "; Secure" : "";
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${String(maxAgeS)}${secure}`;
}

function sessionDto(core: Core, sessionId: string, actor: TokenActor, expiresAt: string): ConsoleSessionDto {
  return output(ConsoleSessionDto, {
    csrf: core.sessions.csrfFor(sessionId),
    token: { id: actor.tokenId, name: actor.name, scopes: actor.scopes, owners: actor.owners, interactive: actor.interactive },
    authenticatedAt: actor.authenticatedAt,
    expiresAt,
    idleTimeoutSeconds: Math.round(core.sessions.policy.idleMs / 1000),
  });
}

function requireSession(req: FastifyRequest): string {
  const id = sessionIdOf(req);
  if (id === null || req.headers.authorization !== undefined)
    throw new CofferError("UNAUTHENTICATED", "no console session: sign in at /admin/signin");
  return id;
}

/** Where `npm run build` put the console (dist/console), from the source tree, tsc's output or the CLI bundle. */
function assetDir(): string | null {
  for (const rel of ["../console/", "../../dist/console/"]) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}app.js`) && existsSync(`${dir}index.html`)) return dir;
  }
  return null;
}

/**
 * The admin console (docs/console.md): its pages and assets under `/admin/`, the session
 * endpoints under `/v1/console/session`, and the endpoints its pages need that the API lacked
 * (`GET /v1/owners`, `POST /v1/admin/encryption/retire`).
 */
export function consoleRoutes(app: FastifyInstance, core: Core): void {
  const dir = assetDir();
  const cache = new Map<string, Buffer>();
  const asset = (name: string): Buffer => {
    if (dir === null) throw new CofferError("SERVER_UNAVAILABLE", "the admin console is not built; run: npm run build");
    let b = cache.get(name);
    if (b === undefined) {
      b = readFileSync(`${dir}${name}`);
      cache.set(name, b);
    }
    return b;
  };
  const open = { config: { auth: false } } as const;

  for (const page of PAGES) {
    app.get(`/admin/${page}`, open, async (_req, reply) => reply.type("text/html; charset=utf-8").send(asset("index.html")));
  }
  app.get<{ Params: { file: string } }>("/admin/assets/:file", open, async (req, reply) => {
    const type = ASSET_TYPES[req.params.file];
    if (type === undefined) throw new CofferError("NOT_FOUND", "no such console asset");
    return reply.type(type).send(asset(req.params.file));
  });

  app.post("/v1/console/session", open, async (req, reply) => {
    requireSameOrigin(req);
    const b = body(ConsoleSignInBody, req);
    const s = await core.sessions.start(b.token, ctxOf(req));
    void reply.header("set-cookie", cookie(req, s.sessionId, Math.floor(core.sessions.policy.lifetimeMs / 1000)));
    return reply.code(201).send(sessionDto(core, s.sessionId, s.actor, s.expiresAt));
  });

  app.get("/v1/console/session", async (req) => {
    const id = requireSession(req);
    const s = await core.sessions.resolve(id);
    return sessionDto(core, id, s.actor, s.expiresAt);
  });

  app.post("/v1/console/session/reauth", async (req) => {
    const id = requireSession(req);
    const b = body(ConsoleSignInBody, req);
    const s = await core.sessions.reauthenticate(id, b.token, ctxOf(req));
    return sessionDto(core, id, s.actor, s.expiresAt);
  });

  app.delete("/v1/console/session", async (req, reply) => {
    const id = requireSession(req);
    await core.sessions.end(id, ctxOf(req));
    void reply.header("set-cookie", cookie(req, "", 0));
    return reply.code(204).send();
  });

  app.get("/v1/owners", async (req) => output(OwnerList, { items: await core.owners.list(actorOf(req), ctxOf(req)) }));

  app.post("/v1/admin/encryption/retire", async (req) => {
    const b = body(RetireKeyBody, req);
    return output(RetiredKeyDto, await core.admin.rotation.retire(actorOf(req), ctxOf(req), { kid: b.kid }));
  });
}
