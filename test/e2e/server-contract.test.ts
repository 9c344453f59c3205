import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { openApiDocument } from "../../src/contract/openapi.ts";
import { CofferError } from "../../src/core/errors/index.ts";
import { Secret } from "../../src/core/secret/index.ts";
import { LOCAL_CONTEXT } from "../../src/core/service/index.ts";
import { CofferApiError, CofferClient } from "../../src/sdk/index.ts";
import { buildServer, registeredRoutes } from "../../src/server/app.ts";
import { ROOT } from "../fixtures/cli.ts";
import { removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";
import { ACTOR, tempCore, type TempCore } from "../fixtures/temp-core.ts";

type Doc = { paths: Record<string, Record<string, unknown>>; components: Record<string, Record<string, unknown>> };
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

/**
 * A route and a documented path in one form: each parameter segment (`:ownerId`, `{ownerId}`,
 * `{keyName}:reveal` — Fastify matches `KEY:reveal` with one parameter) becomes `*`; Fastify's
 * `::` is a literal colon.
 */
function fromRoute(url: string): string {
  return url
    .replaceAll("::", "\u0000")
    .split("/")
    .map((s) => (s.startsWith(":") ? "*" : s))
    .join("/")
    .replaceAll("\u0000", ":");
}
function fromDocPath(path: string): string {
  return path
    .split("/")
    .map((s) => (s.includes("{") ? "*" : s))
    .join("/");
}

describe("the OpenAPI document and the server's routes", () => {
  let t: TempCore;
  let doc: Doc;
  before(async () => {
    t = await tempCore("sqlite");
    doc = JSON.parse(readFileSync(join(ROOT, "docs", "openapi.json"), "utf8")) as Doc;
  });
  after(async () => {
    await t.cleanup();
  });

  it("docs/openapi.json is exactly what the contract generates (npm run openapi)", () => {
    assert.equal(readFileSync(join(ROOT, "docs", "openapi.json"), "utf8"), `${JSON.stringify(openApiDocument(), null, 2)}\n`);
  });

  it("every route under /v1 is documented with its method, and every documented operation is a route", async () => {
    const app = buildServer({ core: t.core, logger: false });
    try {
      await app.ready();
      const routes = new Set(registeredRoutes(app).map((r) => `${r.method} ${fromRoute(r.url)}`));
      const documented = new Set<string>();
      const byNormalised = new Map<string, string>();
      for (const [path, item] of Object.entries(doc.paths))
        for (const m of Object.keys(item).filter((k) => METHODS.includes(k))) {
          const key = `${m.toUpperCase()} ${fromDocPath(path)}`;
          documented.add(key);
          byNormalised.set(key, `${m.toUpperCase()} ${path}`);
        }
      const undocumented = [...routes].filter((r) => r.includes(" /v1/") && !documented.has(r));
      const notRoutes = [...documented].filter((d) => !routes.has(d)).map((d) => byNormalised.get(d));
      assert.deepEqual(undocumented, [], "routes missing from docs/openapi.json");
      assert.deepEqual(notRoutes, [], "documented operations the server does not have");
      assert.ok(routes.size >= 20, `only ${String(routes.size)} routes seen: is the route collector working?`);
    } finally {
      await app.close();
    }
  });

  it("is OpenAPI 3.1 with a bearer scheme, problem+json errors carrying the stable code, and no dangling $ref", () => {
    const d = doc as unknown as Record<string, unknown> & Doc;
    assert.equal(d["openapi"], "3.1.0");
    assert.deepEqual(d.components["securitySchemes"]?.["bearer"], {
      type: "http",
      scheme: "bearer",
      description: "An API token (`coffer_…`): `coffer token create`.",
    });
    const problem = d.components["schemas"]?.["Problem"] as { required: string[]; properties: { code: { enum: string[] } } };
    assert.ok(problem.required.includes("code") && problem.required.includes("detail"));
    assert.ok(problem.properties.code.enum.includes("INVALID_INPUT"));
    const bad = d.components["responses"]?.["BadRequest"] as { content: Record<string, unknown> };
    assert.deepEqual(Object.keys(bad.content), ["application/problem+json"]);
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (typeof v === "object" && v !== null)
        for (const [k, x] of Object.entries(v)) {
          if (k === "$ref" && typeof x === "string") refs.push(x);
          else walk(x);
        }
    };
    walk(d);
    for (const ref of new Set(refs)) {
      const [, section, name] = /^#\/components\/(\w+)\/(\w+)$/.exec(ref) ?? [];
      assert.ok(section !== undefined && name !== undefined && d.components[section]?.[name] !== undefined, `dangling ${ref}`);
    }
    // The share link redeem needs no token; everything else in /v1 but the document does.
    const redeem = d.paths["/v1/shared/{token}:reveal"]?.["post"] as { security?: unknown[] };
    assert.deepEqual(redeem.security, []);
    const put = d.paths["/v1/secrets/{ownerType}/{ownerId}/{keyName}"]?.["put"] as { security?: unknown[]; responses: object };
    assert.equal(put.security, undefined);
    assert.ok("401" in put.responses && "409" in put.responses);
  });
});

describe("the contract over real HTTP: the document served, and one message per mistake", () => {
  let srv: ServerHandle;
  let sdk: CofferClient;
  let t: TempCore;
  before(async () => {
    srv = await startServer();
    sdk = new CofferClient({ baseUrl: srv.url, token: srv.adminToken ?? "" });
    t = await tempCore("sqlite");
    for (const core of [t.core])
      await core.secrets.set(ACTOR, LOCAL_CONTEXT, { owner: "project/p", key: "K", value: Secret.fromString("v") });
    await sdk.putSecret("project/p", "K", { value: "v" });
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
    await t.cleanup();
  });

  it("serves GET /v1/openapi.json without a token, the same document as docs/openapi.json", async () => {
    const res = await fetch(`${srv.url}/v1/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.deepEqual(await res.json(), openApiDocument());
  });

  it("its answers fit the document: real responses validate against the schema documented for their path, method and status", async () => {
    const doc = openApiDocument() as Doc;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema({ $id: "coffer", components: doc.components });
    type Response = { $ref?: string; content?: Record<string, { schema: object }> };
    const schemaFor = (path: string, method: string, status: number): object => {
      const op = doc.paths[path]?.[method] as { responses: Record<string, Response> } | undefined;
      let r = op?.responses[String(status)];
      if (r?.$ref !== undefined) r = doc.components["responses"]?.[r.$ref.split("/").pop() ?? ""] as Response;
      const content = Object.values(r?.content ?? {})[0];
      assert.ok(content !== undefined, `no documented ${String(status)} answer for ${method.toUpperCase()} ${path}`);
      return JSON.parse(JSON.stringify(content.schema).replaceAll('"#/components/', '"coffer#/components/')) as object;
    };
    const S = "/v1/secrets/{ownerType}/{ownerId}/{keyName}";
    const cases: readonly (readonly [string, string, string, unknown?])[] = [
      ["/v1/secrets", "get", "/v1/secrets?ownerType=project&ownerId=p"],
      [S, "get", "/v1/secrets/project/p/K"],
      [S, "put", "/v1/secrets/project/p/K2", { value: "v", meta: { env: "test" } }],
      [`${S}/versions`, "get", "/v1/secrets/project/p/K/versions"],
      [`${S}:reveal`, "post", "/v1/secrets/project/p/K:reveal", { reason: "contract test" }],
      [`${S}:share`, "post", "/v1/secrets/project/p/K:share", { reason: "contract test" }],
      [`${S}:rotate`, "post", "/v1/secrets/project/p/K:rotate", {}],
      [`${S}:generate`, "post", "/v1/secrets/project/p/G:generate", {}],
      ["/v1/secrets/{ownerType}/{ownerId}:reveal", "post", "/v1/secrets/project/p:reveal", { reason: "contract test" }],
      ["/v1/templates/{ownerType}/{ownerId}/{name}", "put", "/v1/templates/project/p/app.env", { text: "K={{ project/p/K }}\n" }],
      ["/v1/templates/{ownerType}/{ownerId}", "get", "/v1/templates/project/p"],
      ["/v1/tokens", "post", "/v1/tokens", { name: "ci", scopes: ["secrets:read"], owners: ["project/p"] }],
      ["/v1/tokens", "get", "/v1/tokens"],
      ["/v1/audit", "get", "/v1/audit?limit=5"],
      ["/v1/audit/verify", "get", "/v1/audit/verify"],
      ["/v1/admin/encryption", "get", "/v1/admin/encryption"],
      [S, "get", "/v1/secrets/galaxy/x/K"],
      [`${S}:reveal`, "post", "/v1/secrets/project/p/K:reveal", { reason: "x", version: "two" }],
      ["/readyz", "get", "/readyz"],
    ];
    for (const [path, method, url, body] of cases) {
      const res = await fetch(`${srv.url}${url}`, {
        method: method.toUpperCase(),
        headers: { authorization: `Bearer ${srv.adminToken ?? ""}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const json: unknown = await res.json();
      const validate = ajv.compile(schemaFor(path, method, res.status));
      assert.ok(validate(json), `${method.toUpperCase()} ${url} (${String(res.status)}): ${ajv.errorsText(validate.errors)}`);
    }
  });

  /** The local core's error for a mistake, and the HTTP problem for the same mistake. */
  async function both(
    local: () => Promise<unknown>,
    remote: () => Promise<unknown>,
  ): Promise<{ local: CofferError; http: CofferApiError }> {
    const l = await local().then(
      () => assert.fail("the core accepted it"),
      (e: unknown) => e,
    );
    const r = await remote().then(
      () => assert.fail("the server accepted it"),
      (e: unknown) => e,
    );
    assert.ok(l instanceof CofferError, String(l));
    assert.ok(r instanceof CofferApiError, String(r));
    return { local: l, http: r };
  }

  const s = () => t.core.secrets;
  const MISTAKES: readonly (readonly [string, () => Promise<unknown>, () => Promise<unknown>])[] = [
    [
      "an owner of an unknown type",
      () => s().set(ACTOR, LOCAL_CONTEXT, { owner: "team/x", key: "K", value: Secret.fromString("v") }),
      () => sdk.putSecret("team/x", "K", { value: "v" }),
    ],
    [
      "an owner without a type",
      () => s().set(ACTOR, LOCAL_CONTEXT, { owner: "acme", key: "K", value: Secret.fromString("v") }),
      () => sdk.putSecret("acme", "K", { value: "v" }),
    ],
    [
      "a listing of an owner without a type",
      () => s().list(ACTOR, { owner: "acme", limit: 10, includeDeleted: false }, LOCAL_CONTEXT),
      () => sdk.listSecrets({ owner: "acme" }),
    ],
    [
      "a listing of an owner id with a slash",
      () => s().list(ACTOR, { owner: "user/a/b", limit: 10, includeDeleted: false }, LOCAL_CONTEXT),
      () => sdk.listSecrets({ owner: "user/a/b" }),
    ],
    [
      "a system owner with an id",
      () => s().get(ACTOR, { owner: "system/x", key: "K" }, LOCAL_CONTEXT),
      () => sdk.getSecret("system/x", "K"),
    ],
    [
      "an owner id breaking the rule",
      () => s().get(ACTOR, { owner: "project/-bad", key: "K" }, LOCAL_CONTEXT),
      () => sdk.getSecret("project/-bad", "K"),
    ],
    [
      "a key name with a space",
      () => s().set(ACTOR, LOCAL_CONTEXT, { owner: "project/p", key: "bad name", value: Secret.fromString("v") }),
      () => sdk.putSecret("project/p", "bad name", { value: "v" }),
    ],
    [
      "a reveal without a reason",
      () => s().reveal(ACTOR, LOCAL_CONTEXT, { owner: "project/p", key: "K", reason: "" }),
      () => sdk.revealSecret("project/p", "K", {} as { reason: string }),
    ],
    [
      "a reveal with a blank reason",
      () => s().reveal(ACTOR, LOCAL_CONTEXT, { owner: "project/p", key: "K", reason: "   " }),
      () => sdk.revealSecret("project/p", "K", { reason: "   " }),
    ],
    [
      "a reveal of version 0",
      () => s().reveal(ACTOR, LOCAL_CONTEXT, { owner: "project/p", key: "K", reason: "test", version: 0 }),
      () => sdk.revealSecret("project/p", "K", { reason: "test", version: 0 }),
    ],
    [
      "a reveal of version 1.5",
      () => s().reveal(ACTOR, LOCAL_CONTEXT, { owner: "project/p", key: "K", reason: "test", version: 1.5 }),
      () => sdk.revealSecret("project/p", "K", { reason: "test", version: 1.5 }),
    ],
    [
      "a get of version 0",
      () => s().get(ACTOR, { owner: "project/p", key: "K", version: 0 }, LOCAL_CONTEXT),
      () => sdk.getSecret("project/p", "K", { version: 0 }),
    ],
    [
      "a metadata key in capitals",
      () => s().set(ACTOR, LOCAL_CONTEXT, { owner: "project/p", key: "K", value: Secret.fromString("v"), meta: { BAD: "x" } }),
      () => sdk.putSecret("project/p", "K", { value: "v", meta: { BAD: "x" } }),
    ],
    [
      "a metadata value with a newline",
      () => s().set(ACTOR, LOCAL_CONTEXT, { owner: "project/p", key: "K", value: Secret.fromString("v"), meta: { env: "a\nb" } }),
      () => sdk.putSecret("project/p", "K", { value: "v", meta: { env: "a\nb" } }),
    ],
    [
      "a metadata value that is not text",
      () =>
        s().set(ACTOR, LOCAL_CONTEXT, {
          owner: "project/p",
          key: "K",
          value: Secret.fromString("v"),
          meta: { env: 5 },
        }),
      () => sdk.putSecret("project/p", "K", { value: "v", meta: { env: 5 } as unknown as Record<string, string> }),
    ],
  ];

  for (const [what, local, remote] of MISTAKES) {
    it(`${what}: the HTTP problem's detail and field are the core's message and field`, async () => {
      const { local: l, http: h } = await both(local, remote);
      assert.equal(l.code, "INVALID_INPUT");
      assert.equal(h.code, l.code);
      assert.equal(h.status, 400);
      assert.equal(h.message, l.message);
      assert.equal(h.problem?.field, l.details["field"]);
      assert.doesNotMatch(h.message, /^(body|query)\.|Invalid input/);
    });
  }
});
