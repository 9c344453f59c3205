import { randomUUID } from "node:crypto";
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger as PinoLogger } from "pino";
import type { Core, TokenActor } from "../core/service/index.ts";
import { CofferError } from "../core/errors/index.ts";
import type { ReauthHook } from "../core/service/index.ts";
import { OPENAPI_PATH, openApiDocument } from "../contract/index.ts";
import { Metrics } from "./metrics.ts";
import { sendProblem, toCofferError } from "./problem.ts";
import { adminRoutes } from "./routes-admin.ts";
import { ownerAdminRoutes } from "./routes-owner-admin.ts";
import { consoleRoutes, sessionActor, setSecurityHeaders } from "./routes-console.ts";
import { ctxOf, secretRoutes } from "./routes-secrets.ts";
import { lazyChildLogger, requestLogger } from "./request-log.ts";
import { invalidEncoding, registerStrictUtf8 } from "./strict-utf8.ts";
import { templateRoutes } from "./routes-templates.ts";
import { transferRoutes } from "./routes-transfer.ts";

declare module "fastify" {
  interface FastifyRequest {
    actor: TokenActor | null;
  }
  interface FastifyContextConfig {
    /** false: the route needs no bearer token (health, metrics, one-time links). */
    auth?: boolean;
  }
}

export type ServerOptions = {
  readonly core: Core;
  /** A pino logger for request logs (redacting), or false for none. */
  readonly logger: PinoLogger | false;
  readonly metrics?: Metrics;
  /** The base URL clients use, for one-time links (default: the request's own host). */
  readonly publicUrl?: string | null;
  /** Background work the admin API starts (KEK rotation); the server's owner awaits it on shutdown. */
  readonly background?: Set<Promise<unknown>>;
  readonly reauth?: ReauthHook;
  /** Serve HTTPS with this PEM certificate chain and key (replaceable later with `setSecureContext`). */
  readonly https?: { readonly cert: Buffer; readonly key: Buffer } | null;
  /**
   * Peers (addresses, CIDRs, proxy-addr keywords) whose `X-Forwarded-For` and `X-Forwarded-Proto`
   * are believed for `request.ip` and `request.protocol`; empty: nobody's.
   */
  readonly trustProxy?: readonly string[];
};

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BEARER = /^Bearer ([^\s]+)$/;

/**
 * Share-link tokens travel in the path (`/v1/shared/<token>:reveal`), so every URL that is
 * logged goes through this first.
 */
export function redactUrl(url: string): string {
  return url.replace(/\/v1\/shared\/[^/?:]+/, "/v1/shared/<redacted>");
}

/** A route as Fastify registered it: `GET /v1/secrets/:ownerType/:ownerId/:keyName` (HEAD routes left out). */
export type RegisteredRoute = { readonly method: string; readonly url: string };
const ROUTES = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route of a server made by {@link buildServer}: what the OpenAPI sync test compares with the document. */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return ROUTES.get(app) ?? [];
}

let openApiJson: string | null = null;

/**
 * The HTTP API (DESIGN §7) over one core: thin adapters from HTTP to the services, with
 * problem+json errors, bearer-token authentication, request logs and metrics.
 */
export function buildServer(opts: ServerOptions): FastifyInstance {
  const metrics = opts.metrics ?? new Metrics();
  // Typed as the default instance: the route modules do not care which pino flavour logs.
  const app: FastifyInstance = Fastify({
    ...(opts.logger === false ? { logger: false } : { loggerInstance: opts.logger, childLoggerFactory: lazyChildLogger }),
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ...(opts.https === undefined || opts.https === null ? {} : { https: { cert: opts.https.cert, key: opts.https.key } }),
    trustProxy: opts.trustProxy === undefined || opts.trustProxy.length === 0 ? false : [...opts.trustProxy],
    bodyLimit: 256 * 1024,
    // One line per request (below), not Fastify's two. Through a LogController: Fastify 5.8+
    // deprecates the top-level `disableRequestLogging` option (FSTDEP023).
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: "idle",
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 300 },
    // A path whose percent-escapes do not decode (e.g. to invalid UTF-8): our problem, not Fastify's.
    frameworkErrors: (error, req, reply) => {
      void sendProblem(req, reply, error.code === "FST_ERR_BAD_URL" ? invalidEncoding("url") : toCofferError(error));
    },
  }) as unknown as FastifyInstance;
  const routes: RegisteredRoute[] = [];
  ROUTES.set(app, routes);
  app.addHook("onRoute", (r) => {
    for (const method of [r.method].flat()) if (method !== "HEAD") routes.push({ method, url: r.url });
  });
  app.decorateRequest("actor", null);
  registerStrictUtf8(app);

  app.addHook("onRequest", async (req, reply) => {
    void reply.header("x-request-id", req.id);
    void reply.header("cache-control", "no-store");
    setSecurityHeaders(reply);
    if (req.routeOptions.config.auth === false) return;
    const header = req.headers.authorization;
    if (header === undefined) {
      // The admin console: a session cookie instead of a bearer token (CSRF-checked).
      const session = await sessionActor(opts.core, req);
      if (session !== null) {
        req.actor = session;
        return;
      }
    }
    const m = typeof header === "string" ? BEARER.exec(header) : null;
    if (m === null) throw new CofferError("UNAUTHENTICATED", "authentication required: send Authorization: Bearer <token>");
    req.actor = await opts.core.tokens.authenticate(m[1] ?? "", ctxOf(req));
  });

  const requestLog = requestLogger(opts.logger);
  // Closing: a keep-alive connection whose in-flight request just finished is idle now; close it
  // rather than wait out the keep-alive timeout (72 s), which held a graceful stop that long
  // when every in-flight request finished before any new one met the 503.
  let closing = false;
  app.addHook("preClose", (done) => {
    closing = true;
    done();
  });

  app.addHook("onResponse", (req, reply, done) => {
    if (closing)
      setImmediate(() => {
        app.server.closeIdleConnections();
      });
    const route = req.routeOptions.url ?? "unmatched";
    const elapsed = reply.elapsedTime;
    metrics.requestDuration.observe({ method: req.method, route, status: String(reply.statusCode) }, elapsed / 1000);
    // Route template, not the URL: one-time link tokens travel in the path.
    requestLog?.({
      reqId: req.id,
      method: req.method,
      route,
      status: reply.statusCode,
      ms: Math.round(elapsed * 100) / 100,
      actor: req.actor?.tokenId ?? null,
    });
    done();
  });

  app.setErrorHandler(async (error: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const err = toCofferError(error);
    if (err.code === "DECRYPT_FAILED" || err.code === "CIPHERTEXT_MALFORMED") metrics.decryptFailures.inc();
    if (["SCOPE_DENIED", "UNAUTHENTICATED", "CSRF_REFUSED", "REAUTH_REQUIRED", "RATE_LIMITED"].includes(err.code))
      metrics.denials.inc({ code: err.code });
    if (err.code === "INTERNAL")
      req.log.error({ code: err.code, cause: error instanceof Error ? error.name : typeof error }, "internal error");
    return sendProblem(req, reply, err);
  });
  app.setNotFoundHandler(async (req, reply) =>
    sendProblem(req, reply, new CofferError("NOT_FOUND", `no route ${req.method} ${redactUrl(req.url.split("?")[0] ?? "")}`)),
  );

  const health = { config: { auth: false } } as const;
  app.get("/healthz", health, () => Promise.resolve({ status: "ok" }));
  app.get("/readyz", health, async (_req, reply) => {
    try {
      const { kid } = await opts.core.health.ready();
      return { status: "ready", kid };
    } catch (e) {
      return sendProblem(_req, reply, new CofferError("STORE_UNAVAILABLE", `not ready: ${toCofferError(e).code}`));
    }
  });
  app.get("/metrics", health, async (_req, reply) => {
    void reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  // The contract as OpenAPI 3.1, generated once from the schemas the routes validate with.
  app.get(OPENAPI_PATH, health, async (_req, reply) => {
    openApiJson ??= JSON.stringify(openApiDocument());
    return reply.header("content-type", "application/json; charset=utf-8").send(openApiJson);
  });

  secretRoutes(app, opts.core, metrics, opts.publicUrl ?? null);
  transferRoutes(app, opts.core, metrics);
  templateRoutes(app, opts.core, metrics);
  adminRoutes(app, opts.core, metrics, opts.background ?? new Set());
  ownerAdminRoutes(app, opts.core);
  consoleRoutes(app, opts.core);
  metrics.kekConfigured.set(1);
  return app;
}
