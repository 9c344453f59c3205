import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

/**
 * The authorization matrix, against a real listening server: every route × every scope (and
 * no token) × the token's own owner and a foreign one, expecting the exact status code.
 */
const SCOPES = ["secrets:read", "secrets:write", "secrets:reveal", "audit:read", "admin"] as const;
type Scope = (typeof SCOPES)[number] | "none";
const OWN = "acme";
/** A public age recipient (its identity was thrown away): export bundles in the matrix are sealed to it. */
const MATRIX_RECIPIENT = "age1hsxmk7w42k9zwrdcqv3ust87cd5tqj0evat7pwdje8udssfr8a8sv4rufz";
const FOREIGN = "other";

type Route = {
  readonly name: string;
  /** The scope the route needs; null: no token needed. */
  readonly needs: (typeof SCOPES)[number] | null;
  /** Whether the route is about one owner (so a foreign owner is refused). */
  readonly perOwner: boolean;
  readonly ok: number;
  readonly request: (
    owner: string,
    ctx: { freshTokenId: () => Promise<string> },
  ) => Promise<{ method: string; path: string; body?: unknown }>;
};

const ROUTES: readonly Route[] = [
  {
    name: "GET /v1/secrets (owner filter)",
    needs: "secrets:read",
    perOwner: true,
    ok: 200,
    request: (o) => Promise.resolve({ method: "GET", path: `/v1/secrets?ownerType=project&ownerId=${o}` }),
  },
  {
    name: "GET /v1/secrets/:t/:id/:key",
    needs: "secrets:read",
    perOwner: true,
    ok: 200,
    request: (o) => Promise.resolve({ method: "GET", path: `/v1/secrets/project/${o}/KEY` }),
  },
  {
    name: "GET …/:key/versions",
    needs: "secrets:read",
    perOwner: true,
    ok: 200,
    request: (o) => Promise.resolve({ method: "GET", path: `/v1/secrets/project/${o}/KEY/versions` }),
  },
  {
    name: "PUT …/:key",
    needs: "secrets:write",
    perOwner: true,
    ok: 200,
    request: (o) => Promise.resolve({ method: "PUT", path: `/v1/secrets/project/${o}/KEY`, body: { value: "v" } }),
  },
  {
    name: "DELETE …/:key",
    needs: "secrets:write",
    perOwner: true,
    ok: 200,
    request: (o) => Promise.resolve({ method: "DELETE", path: `/v1/secrets/project/${o}/DEL` }),
  },
  {
    name: "POST …/:key:rotate",
    needs: "secrets:write",
    perOwner: true,
    ok: 200,
    request: (o) => Promise.resolve({ method: "POST", path: `/v1/secrets/project/${o}/KEY:rotate`, body: {} }),
  },
  {
    name: "POST …/:key:reveal",
    needs: "secrets:reveal",
    perOwner: true,
    ok: 200,
    request: (o) => Promise.resolve({ method: "POST", path: `/v1/secrets/project/${o}/KEY:reveal`, body: { reason: "matrix" } }),
  },
  {
    name: "POST …/:key:share",
    needs: "secrets:reveal",
    perOwner: true,
    ok: 201,
    request: (o) => Promise.resolve({ method: "POST", path: `/v1/secrets/project/${o}/KEY:share`, body: { reason: "matrix" } }),
  },
  {
    name: "POST /v1/secrets/:t/:id:reveal",
    needs: "secrets:reveal",
    perOwner: true,
    ok: 200,
    request: (o) => Promise.resolve({ method: "POST", path: `/v1/secrets/project/${o}:reveal`, body: { reason: "matrix" } }),
  },
  {
    name: "POST /v1/secrets:import",
    needs: "secrets:write",
    perOwner: true,
    ok: 200,
    request: (o) =>
      Promise.resolve({
        method: "POST",
        path: "/v1/secrets:import",
        body: { owner: `project/${o}`, format: "dotenv", content: Buffer.from("IMPORTED=x\n").toString("base64"), allowPlaintext: true },
      }),
  },
  {
    name: "GET /v1/secrets:export (bundle)",
    needs: "secrets:reveal",
    perOwner: true,
    ok: 200,
    request: (o) =>
      Promise.resolve({ method: "GET", path: `/v1/secrets:export?owner=project/${o}&recipient=${MATRIX_RECIPIENT}&reason=matrix` }),
  },
  {
    name: "GET /v1/audit (owner filter)",
    needs: "audit:read",
    perOwner: true,
    ok: 200,
    request: (o) => Promise.resolve({ method: "GET", path: `/v1/audit?owner=project/${o}` }),
  },
  {
    name: "GET /v1/audit/verify",
    needs: "audit:read",
    perOwner: false,
    ok: 200,
    request: () => Promise.resolve({ method: "GET", path: "/v1/audit/verify" }),
  },
  {
    name: "POST /v1/tokens",
    needs: "admin",
    perOwner: false,
    ok: 201,
    request: () =>
      Promise.resolve({
        method: "POST",
        path: "/v1/tokens",
        body: { name: "made", scopes: ["secrets:read"], owners: ["project/acme"] },
      }),
  },
  {
    name: "GET /v1/tokens",
    needs: "admin",
    perOwner: false,
    ok: 200,
    request: () => Promise.resolve({ method: "GET", path: "/v1/tokens" }),
  },
  {
    name: "DELETE /v1/tokens/:id",
    needs: "admin",
    perOwner: false,
    ok: 200,
    request: async (_o, c) => ({ method: "DELETE", path: `/v1/tokens/${await c.freshTokenId()}` }),
  },
  {
    name: "GET /v1/admin/encryption",
    needs: "admin",
    perOwner: false,
    ok: 200,
    request: () => Promise.resolve({ method: "GET", path: "/v1/admin/encryption" }),
  },
  {
    name: "POST /v1/admin/encryption/rotate",
    needs: "admin",
    perOwner: false,
    ok: 202,
    request: () => Promise.resolve({ method: "POST", path: "/v1/admin/encryption/rotate", body: {} }),
  },
  { name: "GET /metrics", needs: null, perOwner: false, ok: 200, request: () => Promise.resolve({ method: "GET", path: "/metrics" }) },
  { name: "GET /healthz", needs: null, perOwner: false, ok: 200, request: () => Promise.resolve({ method: "GET", path: "/healthz" }) },
  { name: "GET /readyz", needs: null, perOwner: false, ok: 200, request: () => Promise.resolve({ method: "GET", path: "/readyz" }) },
];

function expected(route: Route, scope: Scope, foreign: boolean): number {
  if (route.needs === null) return route.ok;
  if (scope === "none") return 401;
  if (scope === "admin") return route.ok;
  if (scope !== route.needs) return 403;
  return route.perOwner && foreign ? 403 : route.ok;
}

describe("HTTP authorization matrix (real server)", () => {
  let srv: ServerHandle;
  let admin: string;
  const tokens = new Map<Scope, string | null>([["none", null]]);

  before(async () => {
    srv = await startServer({ env: { COFFER_RATE_LIMIT_REVEAL: "off", COFFER_RATE_LIMIT_WRITE: "off" } });
    assert.ok(srv.adminToken !== null, "the first start prints an admin token");
    admin = srv.adminToken;
    for (const scope of SCOPES) {
      const r = await call(srv.url, "POST", "/v1/tokens", {
        token: admin,
        body: { name: `only ${scope}`, scopes: [scope], owners: [`project/${OWN}`] },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      tokens.set(scope, (r.body as { token: string }).token);
    }
    for (const o of [OWN, FOREIGN]) {
      assert.equal(
        (await call(srv.url, "PUT", `/v1/secrets/project/${o}/KEY`, { token: admin, body: { value: "matrix-value" } })).status,
        200,
      );
    }
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
  });

  const freshTokenId = async (): Promise<string> => {
    const r = await call(srv.url, "POST", "/v1/tokens", {
      token: admin,
      body: { name: "to revoke", scopes: ["secrets:read"], owners: ["*"] },
    });
    return (r.body as { id: string }).id;
  };

  for (const route of ROUTES) {
    it(route.name, async () => {
      const got: string[] = [];
      const want: string[] = [];
      for (const scope of ["none", ...SCOPES] as const) {
        for (const foreign of route.perOwner ? [false, true] : [false]) {
          const owner = foreign ? FOREIGN : OWN;
          // A delete needs something to delete.
          await call(srv.url, "PUT", `/v1/secrets/project/${owner}/DEL`, { token: admin, body: { value: "d" } });
          const req = await route.request(owner, { freshTokenId });
          const r = await call(srv.url, req.method, req.path, {
            token: tokens.get(scope) ?? null,
            ...(req.body === undefined ? {} : { body: req.body }),
          });
          const label = `${scope}${route.perOwner ? (foreign ? " foreign" : " own") : ""}`;
          got.push(`${label}: ${String(r.status)}`);
          want.push(`${label}: ${String(expected(route, scope, foreign))}`);
          if (r.status >= 400) {
            assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json\b/, `${label}: problem+json`);
            const code = (r.body as { code: string }).code;
            assert.equal(code, r.status === 401 ? "UNAUTHENTICATED" : "SCOPE_DENIED", `${label}: code`);
          }
        }
      }
      assert.deepEqual(got, want);
    });
  }

  it("audits every denial", async () => {
    const r = await call(srv.url, "GET", "/v1/audit?limit=1000", { token: admin });
    const denied = (r.body as { items: { outcome: string; action: string; actor: string }[] }).items.filter((e) => e.outcome === "denied");
    // Each token without the scope (or on a foreign owner) was refused at least once per route it could not use.
    assert.ok(denied.length >= 40, `denials audited: ${String(denied.length)}`);
    assert.ok(denied.some((e) => e.action === "secret.reveal"));
    assert.ok(denied.some((e) => e.action === "token.create"));
  });
});
