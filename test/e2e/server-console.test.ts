/** The console's HTTP side without a browser: cookie flags, proxies, the owner list and key retirement over the API. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CofferClient } from "../../src/sdk/index.ts";
import { call, removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

const setCookie = (h: Headers): string => h.get("set-cookie") ?? "";

describe("console sessions over HTTP", () => {
  let srv: ServerHandle;
  let admin: CofferClient;
  let token = "";
  before(async () => {
    srv = await startServer({ args: ["--trust-proxy", "127.0.0.1/32"] });
    token = srv.adminToken ?? "";
    admin = new CofferClient({ baseUrl: srv.url, token });
    await admin.putSecret("project/acme", "A", { value: "1" });
    await admin.putSecret("project/acme", "B", { value: "2" });
    await admin.putSecret("project/zeta", "C", { value: "3" });
    await admin.putSecret("user/alice", "D", { value: "4" });
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
  });

  it("sets HttpOnly, SameSite=Strict, and Secure only when a trusted proxy says the client used HTTPS", async () => {
    const plain = await call(srv.url, "POST", "/v1/console/session", { body: { token } });
    assert.equal(plain.status, 201, plain.text);
    assert.match(setCookie(plain.headers), /^coffer_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    const proxied = await call(srv.url, "POST", "/v1/console/session", {
      body: { token },
      headers: { "x-forwarded-proto": "https", "x-forwarded-host": "coffer.example.com", origin: "https://coffer.example.com" },
    });
    assert.equal(proxied.status, 201, proxied.text);
    assert.match(setCookie(proxied.headers), /; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    const elsewhere = await call(srv.url, "POST", "/v1/console/session", {
      body: { token },
      headers: { "x-forwarded-proto": "https", "x-forwarded-host": "coffer.example.com", origin: "http://coffer.example.com" },
    });
    assert.equal(elsewhere.status, 403);
    assert.equal((elsewhere.body as { code: string }).code, "CSRF_REFUSED");
  });

  it("refuses a request carrying two different session cookies (one planted with a narrower Path would be sent first)", async () => {
    const mine = await call(srv.url, "POST", "/v1/console/session", { body: { token } });
    const id = /coffer_session=([A-Za-z0-9_-]+)/.exec(setCookie(mine.headers))?.[1] ?? "";
    assert.notEqual(id, "");
    const planted = "A".repeat(43);
    const both = await call(srv.url, "GET", "/v1/console/session", {
      headers: { cookie: `coffer_session=${planted}; coffer_session=${id}` },
    });
    assert.equal(both.status, 401, both.text);
    assert.equal((both.body as { code: string }).code, "UNAUTHENTICATED");
    const one = await call(srv.url, "GET", "/v1/console/session", { headers: { cookie: `coffer_session=${id}` } });
    assert.equal(one.status, 200, one.text);
  });

  it("refuses a wrong token at sign-in without a cookie, and names the field of a bad body", async () => {
    const wrong = await call(srv.url, "POST", "/v1/console/session", { body: { token: "coffer_nope" } });
    assert.equal(wrong.status, 401);
    assert.equal(setCookie(wrong.headers), "");
    const bad = await call(srv.url, "POST", "/v1/console/session", { body: { tok: 1 } });
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { field: string }).field, "token");
  });

  it("GET /v1/owners: the owners a token can see, with counts; another owner's never", async () => {
    assert.deepEqual(await admin.listOwners(), [
      { owner: "project/acme", secrets: 2 },
      { owner: "project/zeta", secrets: 1 },
      { owner: "user/alice", secrets: 1 },
    ]);
    const t = await admin.createToken({ name: "acme", scopes: ["secrets:read"], owners: ["project/acme", "user/*"] });
    assert.deepEqual(await new CofferClient({ baseUrl: srv.url, token: t.token }).listOwners(), [
      { owner: "project/acme", secrets: 2 },
      { owner: "user/alice", secrets: 1 },
    ]);
    const w = await admin.createToken({ name: "writer", scopes: ["secrets:write"], owners: ["*"] });
    await assert.rejects(new CofferClient({ baseUrl: srv.url, token: w.token }).listOwners(), { code: "SCOPE_DENIED" });
  });

  it("POST /v1/admin/encryption/retire: admin only, refused for the active kid, audited", async () => {
    const r = await admin.createToken({ name: "reader", scopes: ["secrets:read", "audit:read"], owners: ["*"] });
    await assert.rejects(new CofferClient({ baseUrl: srv.url, token: r.token }).retireKey("primary"), { code: "SCOPE_DENIED" });
    await assert.rejects(admin.retireKey("primary"), { code: "INVALID_INPUT" });
    await assert.rejects(admin.retireKey("no-such-kid"), { code: "KEY_NOT_FOUND" });
    const denied = await admin.listAudit({ action: "keys.retire" });
    assert.ok(denied.items.some((e) => e.outcome === "denied" && e.actor === `token:${r.id}`));
  });

  it("answers the console's pages as HTML and its unknown assets with a problem", async () => {
    for (const p of ["/admin", "/admin/", "/admin/signin", "/admin/secrets", "/admin/audit", "/admin/tokens", "/admin/encryption"]) {
      const res = await fetch(srv.url + p);
      assert.equal(res.status, 200, p);
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    }
    const js = await fetch(`${srv.url}/admin/assets/app.js`);
    assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/);
    const missing = await call(srv.url, "GET", "/admin/assets/..%2F..%2Fpackage.json");
    assert.equal(missing.status, 404);
    const other = await call(srv.url, "GET", "/admin/assets/evil.js");
    assert.equal(other.status, 404);
  });
});
