import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";
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
  // Listings that name no owner: any token with the scope may call them; what each returns is
  // limited to the token's owners (see "tenant isolation over HTTP" below).
  {
    name: "GET /v1/secrets (no owner filter)",
    needs: "secrets:read",
    perOwner: false,
    ok: 200,
    request: () => Promise.resolve({ method: "GET", path: "/v1/secrets" }),
  },
  {
    name: "GET /v1/secrets?ownerType=project&prefix=K&deleted=true",
    needs: "secrets:read",
    perOwner: false,
    ok: 200,
    request: () => Promise.resolve({ method: "GET", path: "/v1/secrets?ownerType=project&prefix=K&deleted=true" }),
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
    name: "GET /v1/audit (no owner filter)",
    needs: "audit:read",
    perOwner: false,
    ok: 200,
    request: () => Promise.resolve({ method: "GET", path: "/v1/audit" }),
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
    name: "GET /v1/owners",
    needs: "secrets:read",
    perOwner: false,
    ok: 200,
    request: () => Promise.resolve({ method: "GET", path: "/v1/owners" }),
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

/**
 * Tenant isolation over HTTP on the default store (SQLite, where no row-level security exists):
 * what a token scoped to `project/acme` gets back from every listing, whatever it asks for.
 * The same guarantees on both dialects at the service level: src/core/service/tenant-isolation.test.ts.
 */
describe("tenant isolation over HTTP and the remote CLI (SQLite)", () => {
  const CANARY = "FOREIGN-META-canary-91be";
  const SEED: Readonly<Record<string, readonly string[]>> = {
    "project/acme": ["A_ONE", "SHARED_NAME", "A_GONE"],
    "project/acme2": ["X_ACME2"],
    "project/other": ["O_ONE", "SHARED_NAME", "O_GONE"],
    "user/alice": ["U_ONE"],
    system: ["S_ONE"],
  };
  const FOREIGN_NAMES = ["X_ACME2", "O_ONE", "O_GONE", "U_ONE", "S_ONE"];
  const path = (owner: string, key: string): string => `/v1/secrets/${owner === "system" ? "system/_" : owner}/${key}`;
  let srv: ServerHandle;
  let admin: string;
  let acme: string;
  let cli: CliHarness;

  /** Every page of a listing, following `nextCursor`; the raw texts too (for canary checks). */
  const walk = async (base: string, token: string): Promise<{ items: { owner: string | null; key: string | null }[]; texts: string[] }> => {
    const items: { owner: string | null; key: string | null }[] = [];
    const texts: string[] = [];
    let cursor: string | null = null;
    for (;;) {
      const sep: string = base.includes("?") ? "&" : "?";
      const r = await call(srv.url, "GET", cursor === null ? base : `${base}${sep}cursor=${cursor}`, { token });
      assert.equal(r.status, 200, `${base}: ${r.text}`);
      const page = r.body as { items: { owner: string | null; key: string | null }[]; nextCursor: string | null };
      items.push(...page.items);
      texts.push(r.text);
      if (page.nextCursor === null) return { items, texts };
      cursor = page.nextCursor;
    }
  };
  const assertNoForeign = (label: string, texts: readonly string[]): void => {
    for (const text of texts) {
      for (const name of FOREIGN_NAMES) assert.ok(!text.includes(name), `${label}: leaks ${name}`);
      for (const owner of Object.keys(SEED).filter((o) => o !== "project/acme"))
        assert.ok(!text.includes(`${CANARY}-${owner}`), `${label}: leaks ${owner}'s metadata`);
    }
  };

  before(async () => {
    srv = await startServer({ env: { COFFER_RATE_LIMIT_REVEAL: "off", COFFER_RATE_LIMIT_WRITE: "off" } });
    assert.ok(srv.adminToken !== null);
    admin = srv.adminToken;
    for (const [owner, keys] of Object.entries(SEED)) {
      for (const key of keys) {
        const r = await call(srv.url, "PUT", path(owner, key), {
          token: admin,
          body: { value: `v-${key}`, meta: { note: `${CANARY}-${owner}` } },
        });
        assert.equal(r.status, 200, r.text);
        if (key.endsWith("_GONE")) assert.equal((await call(srv.url, "DELETE", path(owner, key), { token: admin })).status, 200);
      }
    }
    await call(srv.url, "POST", `${path("project/other", "O_ONE")}:reveal`, { token: admin, body: { reason: "a foreign event" } });
    const t = await call(srv.url, "POST", "/v1/tokens", {
      token: admin,
      body: { name: "acme only", scopes: ["secrets:read", "secrets:write", "secrets:reveal", "audit:read"], owners: ["project/acme"] },
    });
    acme = (t.body as { token: string }).token;
    await call(srv.url, "POST", `${path("project/acme", "A_ONE")}:reveal`, { token: acme, body: { reason: "an own event" } });
    cli = new CliHarness({ COFFER_ADDR: srv.url, COFFER_TOKEN: acme });
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
    cli.cleanup();
  });

  it("GET /v1/secrets returns only project/acme under every filter, on every page", async () => {
    const queries = [
      "",
      "?ownerType=project",
      "?ownerType=user",
      "?ownerType=system",
      "?prefix=O_",
      "?prefix=SHARED",
      "?deleted=true",
      "?deleted=true&prefix=O_",
      "?ownerType=project&deleted=true",
      "?ownerType=project&ownerId=acme&deleted=true",
    ];
    for (const q of queries) {
      for (const limit of ["1", "1000"]) {
        const base = `/v1/secrets${q}${q === "" ? "?" : "&"}limit=${limit}`;
        const { items, texts } = await walk(base, acme);
        assert.deepEqual(
          items.filter((i) => i.owner !== "project/acme"),
          [],
          base,
        );
        assertNoForeign(base, texts);
      }
    }
    const keys = (await walk("/v1/secrets?deleted=true", acme)).items.map((i) => i.key).sort();
    assert.deepEqual(keys, ["A_GONE", "A_ONE", "SHARED_NAME"]);
  });

  it("a cursor is only a position: an admin's cursors replayed, and forged ones, widen nothing", async () => {
    const cursors: string[] = [];
    let cursor: string | null = null;
    do {
      const r = await call(srv.url, "GET", `/v1/secrets?deleted=true&limit=1${cursor === null ? "" : `&cursor=${cursor}`}`, {
        token: admin,
      });
      cursor = (r.body as { nextCursor: string | null }).nextCursor;
      if (cursor !== null) cursors.push(cursor);
    } while (cursor !== null);
    assert.ok(cursors.length >= 9, "the admin pages through every owner");
    for (const c of cursors) {
      const r = await call(srv.url, "GET", `/v1/secrets?deleted=true&limit=2&cursor=${c}`, { token: acme });
      assert.equal(r.status, 200);
      assert.deepEqual(
        (r.body as { items: { owner: string }[] }).items.filter((i) => i.owner !== "project/acme"),
        [],
      );
      assertNoForeign(`cursor ${c}`, [r.text]);
    }
    for (const bad of ["-1", "abc", "1.5", "9999999999999999"]) {
      const r = await call(srv.url, "GET", `/v1/secrets?cursor=${bad}`, { token: acme });
      assert.equal(r.status, 400, bad);
      assert.equal((r.body as { code: string }).code, "INVALID_INPUT");
    }
    const far = await call(srv.url, "GET", "/v1/secrets?cursor=999999999999999", { token: acme });
    assert.deepEqual([far.status, (far.body as { items: unknown[] }).items.length], [200, 0]);
  });

  it("GET /v1/audit returns only events about project/acme, never ownerless ones, on every page", async () => {
    for (const limit of ["1", "1000"]) {
      const { items, texts } = await walk(`/v1/audit?limit=${limit}`, acme);
      assert.ok(items.length > 0);
      assert.deepEqual(
        items.filter((e) => e.owner !== "project/acme"),
        [],
        `limit ${limit}`,
      );
      assertNoForeign(`audit limit ${limit}`, texts);
    }
    for (const q of ["owner=project/other", "owner=project/acme2", "owner=system"]) {
      const r = await call(srv.url, "GET", `/v1/audit?${q}`, { token: acme });
      assert.equal(r.status, 403, q);
      assertNoForeign(q, [r.text]);
    }
    const all = await walk("/v1/audit?limit=1000", admin);
    assert.ok(all.items.some((e) => e.owner === "project/other"));
    assert.ok(all.items.some((e) => e.owner === null));
  });

  it("history/versions, reveal, share, export and import of a foreign owner: 403, and the refusal names nothing of it", async () => {
    const refusals = [
      { method: "GET", p: `${path("project/other", "O_ONE")}/versions` },
      { method: "GET", p: `${path("project/other", "O_GONE")}/versions` },
      { method: "GET", p: `${path("project/other", "O_ONE")}?version=1` },
      { method: "POST", p: `${path("project/other", "O_ONE")}:reveal`, body: { reason: "x" } },
      { method: "POST", p: `${path("project/other", "O_ONE")}:share`, body: { reason: "x" } },
      { method: "POST", p: "/v1/secrets/project/other:reveal", body: { reason: "x" } },
      { method: "GET", p: `/v1/secrets:export?owner=project/other&recipient=${MATRIX_RECIPIENT}&reason=x` },
      {
        method: "POST",
        p: "/v1/secrets:import",
        body: { owner: "project/other", format: "dotenv", content: Buffer.from("O_ONE=x\n").toString("base64"), allowPlaintext: true },
      },
    ];
    for (const r of refusals) {
      const got = await call(srv.url, r.method, r.p, { token: acme, ...(r.body === undefined ? {} : { body: r.body }) });
      assert.equal(got.status, 403, `${r.method} ${r.p}: ${got.text}`);
      assertNoForeign(`${r.method} ${r.p}`, [got.text.replace("O_ONE", "").replace("O_GONE", "")]);
      assert.ok(!got.text.includes(CANARY), `${r.method} ${r.p}: metadata`);
    }
    const after = await call(srv.url, "GET", "/v1/secrets/project/other/O_ONE", { token: admin });
    assert.equal((after.body as { version: number }).version, 1, "the refused import wrote nothing");
  });

  it("remote `coffer secrets list` and `coffer audit list` show only project/acme", () => {
    for (const args of [
      ["secrets", "list"],
      ["secrets", "list", "--meta"],
      ["secrets", "list", "--deleted", "--json"],
      ["secrets", "list", "--prefix", "O_", "--json"],
      ["secrets", "list", "--prefix", "SHARED", "--meta"],
      ["audit", "list", "--json", "--limit", "1000"],
      ["audit", "list"],
    ]) {
      const r = cli.run(args);
      assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
      assertNoForeign(args.join(" "), [r.stdout, r.stderr]);
    }
    const listed = JSON.parse(cli.run(["secrets", "list", "--deleted", "--json"]).stdout) as { owner: string; key: string }[];
    assert.deepEqual(listed.map((i) => `${i.owner}:${i.key}`).sort(), [
      "project/acme:A_GONE",
      "project/acme:A_ONE",
      "project/acme:SHARED_NAME",
    ]);
    const denied = cli.run(["secrets", "list", "project/other"]);
    assert.notEqual(denied.status, 0);
    assert.match(denied.stderr, /SCOPE_DENIED/);
    assertNoForeign("secrets list project/other", [denied.stdout, denied.stderr]);
  });
});
