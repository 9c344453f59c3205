import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CofferApiError, CofferClient } from "../../src/sdk/index.ts";
import { freshDatabase, type FreshDatabase } from "../fixtures/postgres.ts";
import { call, removeHome, startServer, type ServerHandle, migrateWithCli } from "../fixtures/server.ts";

const CANARY = "CANARY-http-7f3a91-do-not-leak";

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

describe("HTTP API server (real server, real HTTP on 127.0.0.1)", () => {
  let srv: ServerHandle;
  let admin: string;
  let sdk: CofferClient;

  before(async () => {
    srv = await startServer({ env: { COFFER_LOG_LEVEL: "trace", COFFER_RATE_LIMIT_REVEAL: "5/1m", COFFER_REAUTH_WINDOW: "2s" } });
    admin = srv.adminToken ?? "";
    sdk = new CofferClient({ baseUrl: srv.url, token: admin });
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
  });

  it("prints the first admin token once: a second start on the same data directory prints none", async () => {
    assert.match(admin, /^coffer_[A-Za-z0-9_-]{43}$/);
    const again = await startServer({ home: srv.home });
    try {
      assert.equal(again.adminToken, null);
      assert.doesNotMatch(again.output(), /coffer_[A-Za-z0-9_-]{43}/);
    } finally {
      await again.stop();
    }
  });

  it("stores, reads masked, reveals once with a reason, lists with a cursor, and keeps versions", async () => {
    const put = await sdk.putSecret("project/http", "DB_PASSWORD", { value: CANARY, meta: { env: "prod" } });
    assert.equal(put.version, 1);
    assert.equal(put.value, "********");
    const got = await sdk.getSecret("project/http", "DB_PASSWORD");
    assert.equal(got.value, "********");
    assert.equal(JSON.stringify(got).includes(CANARY), false);
    const revealed = await sdk.revealSecret("project/http", "DB_PASSWORD", { reason: "http test" });
    assert.equal(revealed.value, CANARY);
    for (let i = 0; i < 5; i++) await sdk.putSecret("project/http", `K${String(i)}`, { value: "x" });
    const p1 = await sdk.listSecrets({ owner: "project/http", limit: 4 });
    assert.equal(p1.items.length, 4);
    assert.ok(p1.nextCursor !== null);
    const p2 = await sdk.listSecrets({ owner: "project/http", limit: 4, cursor: p1.nextCursor });
    assert.equal(p1.items.length + p2.items.length, 6);
    await sdk.putSecret("project/http", "DB_PASSWORD", { value: `${CANARY}-2` }, { ifMatch: 1 });
    await assert.rejects(sdk.putSecret("project/http", "DB_PASSWORD", { value: "lost" }, { ifMatch: 1 }), (e: CofferApiError) => {
      assert.equal(e.code, "CONFLICT");
      assert.equal(e.status, 409);
      return true;
    });
    assert.deepEqual(
      (await sdk.listVersions("project/http", "DB_PASSWORD")).map((v) => [v.version, v.current]),
      [
        [1, false],
        [2, true],
      ],
    );
  });

  it("refuses a reveal without a reason (400, audited as denied)", async () => {
    const r = await call(srv.url, "POST", "/v1/secrets/project/http/DB_PASSWORD:reveal", { token: admin, body: { reason: "  " } });
    assert.equal(r.status, 400);
    assert.equal((r.body as { code: string }).code, "INVALID_INPUT");
    const audit = await sdk.listAudit({ owner: "project/http", action: "secret.reveal", limit: 1000 });
    assert.ok(audit.items.some((e) => e.outcome === "denied" && (e.details as { rule?: string }).rule === "reason required"));
  });

  it("Idempotency-Key: the same key and body replay without a second write; another body is 422", async () => {
    const headers = { "idempotency-key": "idem-1" };
    const first = await call(srv.url, "PUT", "/v1/secrets/project/idem/K", { token: admin, body: { value: "one" }, headers });
    assert.equal(first.status, 200);
    const again = await call(srv.url, "PUT", "/v1/secrets/project/idem/K", { token: admin, body: { value: "one" }, headers });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(again.body, first.body);
    assert.equal((await sdk.listVersions("project/idem", "K")).length, 1, "no second write");
    const other = await call(srv.url, "PUT", "/v1/secrets/project/idem/K", { token: admin, body: { value: "two" }, headers });
    assert.equal(other.status, 422);
    assert.equal((other.body as { code: string }).code, "IDEMPOTENCY_MISMATCH");
    assert.equal((await sdk.listVersions("project/idem", "K")).length, 1, "nothing written");
    // Concurrent duplicates: exactly one write.
    const many = await Promise.all(
      Array.from({ length: 8 }, () =>
        call(srv.url, "PUT", "/v1/secrets/project/idem/C", {
          token: admin,
          body: { value: "c" },
          headers: { "idempotency-key": "idem-c" },
        }),
      ),
    );
    assert.deepEqual(
      many.map((r) => r.status),
      Array(8).fill(200),
    );
    assert.equal((await sdk.listVersions("project/idem", "C")).length, 1);
  });

  it("rate-limits reveals per token (429 with Retry-After), audited", async () => {
    const t = await sdk.createToken({ name: "limited", scopes: ["secrets:reveal"], owners: ["project/http"] });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 7; i++) {
      const r = await call(srv.url, "POST", "/v1/secrets/project/http/K0:reveal", { token: t.token, body: { reason: "limit" } });
      statuses.push(r.status);
      if (r.status === 429) {
        retryAfter = r.headers.get("retry-after");
        assert.equal((r.body as { code: string }).code, "RATE_LIMITED");
      }
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
    assert.ok(retryAfter !== null && Number(retryAfter) >= 1 && Number(retryAfter) <= 60, `Retry-After ${String(retryAfter)}`);
  });

  it("one-time links reveal exactly once, atomically, even to concurrent redeemers", async () => {
    const link = await sdk.shareSecret("project/http", "DB_PASSWORD", { reason: "hand over", ttl: "5m" });
    assert.match(link.url, /\/v1\/shared\/coffer_share_[A-Za-z0-9_-]{43}:reveal$/);
    const anon = new CofferClient({ baseUrl: srv.url });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => anon.redeemShared(link.token)));
    const ok = results.filter((r) => r.status === "fulfilled");
    assert.equal(ok.length, 1);
    assert.equal((ok[0] as PromiseFulfilledResult<{ value: string }>).value.value, `${CANARY}-2`);
    for (const r of results.filter((x) => x.status === "rejected")) assert.equal((r.reason as CofferApiError).code, "SHARE_LINK_INVALID");
    const audit = await sdk.listAudit({ owner: "project/http", limit: 1000 });
    assert.equal(audit.items.filter((e) => (e.details as { via?: string }).via === "share").length, 1);
    assert.ok(audit.items.some((e) => e.action === "secret.share" && e.outcome === "success"));
  });

  it("interactive tokens must have authenticated recently to reveal (the re-auth hook); the denial is audited", async () => {
    const t = await sdk.createToken({ name: "alice laptop", scopes: ["secrets:reveal"], owners: ["project/http"], interactive: true });
    const c = new CofferClient({ baseUrl: srv.url, token: t.token });
    assert.equal((await c.revealSecret("project/http", "K1", { reason: "fresh" })).value, "x");
    await new Promise((r) => setTimeout(r, 2500));
    await assert.rejects(
      c.revealSecret("project/http", "K1", { reason: "stale" }),
      (e: CofferApiError) => e.code === "REAUTH_REQUIRED" && e.status === 401,
    );
    const audit = await sdk.listAudit({ owner: "project/http", limit: 1000 });
    assert.ok(
      audit.items.some(
        (e) =>
          e.actor === `token:${t.id}` && e.outcome === "denied" && (e.details as { rule?: string }).rule === "re-authentication required",
      ),
    );
  });

  it("revoked and unknown tokens are refused with 401 UNAUTHENTICATED", async () => {
    const t = await sdk.createToken({ name: "short", scopes: ["secrets:read"], owners: ["*"] });
    const c = new CofferClient({ baseUrl: srv.url, token: t.token });
    await c.listSecrets();
    await sdk.revokeToken(t.id);
    await assert.rejects(c.listSecrets(), (e: CofferApiError) => e.code === "UNAUTHENTICATED" && e.status === 401);
    const bogus = await call(srv.url, "GET", "/v1/secrets", { token: `coffer_${"A".repeat(43)}` });
    assert.equal(bogus.status, 401);
    assert.equal(bogus.headers.get("www-authenticate"), 'Bearer realm="coffer"');
  });

  it("errors are problem+json with a stable code and never echo the submitted value", async () => {
    const bad = [
      await call(srv.url, "PUT", "/v1/secrets/project/http/DB_PASSWORD", { token: admin, body: `{"value": ${CANARY}}` }),
      await call(srv.url, "PUT", "/v1/secrets/project/http/bad%20name", { token: admin, body: { value: CANARY } }),
      await call(srv.url, "PUT", "/v1/secrets/project/http/K", { token: admin, body: { value: CANARY, meta: { BAD: CANARY } } }),
      await call(srv.url, "PUT", "/v1/secrets/project/http/K", { token: admin, body: { value: CANARY.repeat(3000) } }),
      await call(srv.url, "PUT", "/v1/secrets/galaxy/x/K", { token: admin, body: { value: CANARY } }),
      await call(srv.url, "POST", `/v1/shared/coffer_share_${CANARY}:reveal`, { body: {} }),
    ];
    for (const r of bad) {
      assert.ok(r.status >= 400 && r.status < 500, `${String(r.status)} ${r.text}`);
      assert.match(r.headers.get("content-type") ?? "", /^application\/problem\+json/);
      assert.equal(r.text.includes(CANARY), false, r.text);
      assert.equal(typeof (r.body as { code: unknown }).code, "string");
    }
    assert.equal((bad[0]?.body as { code: string }).code, "INVALID_INPUT");
    assert.equal((bad[1]?.body as { field: string }).field, "key");
  });

  it("exports metrics without values, owners or tokens in them", async () => {
    const text = await sdk.metrics();
    assert.match(text, /^kek_configured 1$/m);
    assert.match(text, /^coffer_reveals_total\{via="api"\} [1-9]/m);
    assert.match(text, /^coffer_denials_total\{code="RATE_LIMITED"\} [1-9]/m);
    assert.match(
      text,
      /coffer_http_request_duration_seconds_bucket\{le="0\.005",method="PUT",route="\/v1\/secrets\/:ownerType\/:ownerId\/:keyName",status="200"\}/,
    );
    assert.match(text, /^coffer_decrypt_failures_total 0$/m);
    assert.equal(text.includes(CANARY), false);
    assert.equal(text.includes("project/http"), false);
    assert.equal(text.includes(admin), false);
  });

  it("leaks no value and no token into the logs (trace level), and not into the data directory", async () => {
    await sdk.putSecret("project/http", "LAST", { value: CANARY });
    const out = srv.output();
    assert.match(out, /"route":"\/v1\/secrets\/:ownerType\/:ownerId\/:keyName","status":200,.*"msg":"request"/, "request logs are on");
    assert.equal(out.includes(CANARY), false, "canary in server output");
    // The admin token appears exactly once: the line that showed it on first start.
    assert.equal(out.split(admin).length - 1, 1, "admin token only in its one-time line");
    assert.doesNotMatch(
      out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .join("\n"),
      /coffer_[A-Za-z0-9_-]{43}|coffer_share_/,
    );
    for (const f of filesUnder(srv.home)) {
      const bytes = readFileSync(f);
      assert.equal(bytes.includes(CANARY), false, `canary in ${f}`);
      assert.equal(bytes.includes(admin), false, `token in ${f}`);
    }
  });
});

describe("coffer serve boots fail-closed and shuts down gracefully", () => {
  it("does not listen with an unusable key: exits non-zero naming the problem", async () => {
    await assert.rejects(startServer({ env: { COFFER_KEK_BASE64: "too-short" } }), (e: { code: number; stderr: string }) => {
      assert.equal(e.code, 4);
      assert.match(e.stderr, /error\[KEY_INVALID\]: .*COFFER_KEK_BASE64/);
      return true;
    });
  });

  it("does not listen on a PostgreSQL database with pending migrations (exit 8)", async () => {
    const db: FreshDatabase = await freshDatabase();
    try {
      await assert.rejects(startServer({ env: { COFFER_DB_URL: db.url } }), (e: { code: number; stderr: string }) => {
        assert.equal(e.code, 8);
        assert.match(e.stderr, /error\[MIGRATIONS_PENDING\]: .*run: coffer migrate/);
        return true;
      });
    } finally {
      await db.drop();
    }
  });

  it("on SIGTERM stops accepting, finishes in-flight requests and exits 0", async () => {
    const s = await startServer();
    const c = new CofferClient({ baseUrl: s.url, token: s.adminToken ?? "" });
    await c.putSecret("project/stop", "K", { value: "v" });
    const sent = Array.from({ length: 200 }, (_, i) => c.putSecret("project/stop", `K${String(i)}`, { value: "v" }));
    // Signal once the first of them has been answered: the rest are in flight or not yet sent.
    await Promise.race(sent);
    s.proc.kill("SIGTERM");
    const settled = await Promise.allSettled(sent);
    assert.equal(await s.exited, 0);
    for (const r of settled) if (r.status === "rejected") assert.equal((r.reason as CofferApiError).code, "SERVER_UNAVAILABLE");
    const written = settled.filter((r) => r.status === "fulfilled").length;
    assert.ok(written >= 1);
    // Every answered write is there, and nothing else: no half-done request.
    const again = await startServer({ home: s.home });
    try {
      const list = await new CofferClient({ baseUrl: again.url, token: s.adminToken ?? "" }).listSecrets({
        owner: "project/stop",
        limit: 1000,
      });
      assert.ok(list.items.length >= written + 1, `${String(list.items.length)} stored, ${String(written)} answered`);
      for (const it of list.items) assert.equal(it.version, 1);
    } finally {
      await again.stop();
    }
    removeHome(s.home);
  });
});

describe("rate limits are held in the database: two servers on one PostgreSQL share them", () => {
  let db: FreshDatabase;
  const servers: ServerHandle[] = [];
  before(async () => {
    db = await freshDatabase();
    migrateWithCli(db.url, KEK);
  });
  after(async () => {
    for (const s of servers) {
      await s.stop();
      removeHome(s.home);
    }
    await db.drop();
  });

  it("counts one token's reveals across both servers", async () => {
    const env = { COFFER_DB_URL: db.url, COFFER_KEK_BASE64: KEK, COFFER_RATE_LIMIT_REVEAL: "4/1m" };
    servers.push(await startServer({ env }));
    servers.push(await startServer({ env }));
    const [a, b] = servers;
    assert.ok(a !== undefined && b !== undefined);
    const adminToken = a.adminToken ?? b.adminToken;
    assert.ok(adminToken !== null, "exactly one of the two printed the first admin token");
    assert.equal([a.adminToken, b.adminToken].filter((t) => t !== null).length, 1);
    const sa = new CofferClient({ baseUrl: a.url, token: adminToken });
    await sa.putSecret("project/pg", "K", { value: "v" });
    const t = await sa.createToken({ name: "shared limit", scopes: ["secrets:reveal"], owners: ["project/pg"] });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const srv = i % 2 === 0 ? a : b;
      statuses.push(
        (await call(srv.url, "POST", "/v1/secrets/project/pg/K:reveal", { token: t.token, body: { reason: "shared" } })).status,
      );
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
  });
});

const KEK = Buffer.alloc(32, 7).toString("base64");
