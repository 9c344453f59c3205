import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { BIN } from "../fixtures/cli.ts";
import { freshDatabase, type FreshDatabase } from "../fixtures/postgres.ts";
import { baseEnv, removeHome, startServer, type ServerHandle, migrateWithCli } from "../fixtures/server.ts";

type Answer = { readonly status: number; readonly retryAfter: string | null; readonly body: Record<string, unknown> };

/**
 * One HTTP call from a chosen loopback address (any 127.x.y.z is this host on Linux): real
 * clients at different addresses, without trusting a proxy header.
 */
function callFrom(
  from: string,
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<Answer> {
  const url = new URL(path, base);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        localAddress: from,
        headers: {
          ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }),
          ...(payload === undefined ? {} : { "content-type": "application/json" }),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d));
        res.on("end", () => {
          const h = res.headers["retry-after"];
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: typeof h === "string" ? h : null,
            body: JSON.parse(text) as Record<string, unknown>,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/** Well-formed tokens nobody was given; the first is a canary searched for in the audit log. */
const guess = (i: number): string => `coffer_CANARYguess${String(i).padStart(4, "0")}${"x".repeat(43 - 13)}`;
const shareGuess = (i: number): string => `coffer_share_${String(i).padStart(43, "Q")}`;

describe("failed authentications are limited per address and audited in aggregate (real server over loopback)", () => {
  let srv: ServerHandle;
  let admin: string;

  before(async () => {
    srv = await startServer({ env: { COFFER_RATE_LIMIT_AUTH: "5/1m" } });
    admin = srv.adminToken ?? "";
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
  });

  it("answers 5 bad tokens 401, then 429 with Retry-After; then a good token from that address 429; another address unaffected", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await callFrom("127.0.0.2", srv.url, "GET", "/v1/tokens", { token: guess(i) })).status);
    assert.deepEqual(statuses, [401, 401, 401, 401, 401]);
    const limited = await callFrom("127.0.0.2", srv.url, "GET", "/v1/tokens", { token: guess(5) });
    assert.equal(limited.status, 429);
    assert.equal(limited.body["code"], "RATE_LIMITED");
    assert.ok(Number(limited.retryAfter) >= 1 && Number(limited.retryAfter) <= 60, String(limited.retryAfter));
    const goodThere = await callFrom("127.0.0.2", srv.url, "GET", "/v1/tokens", { token: admin });
    assert.equal(goodThere.status, 429);
    const shareThere = await callFrom("127.0.0.2", srv.url, "POST", `/v1/shared/${shareGuess(1)}:reveal`);
    assert.equal(shareThere.status, 429);
    const elsewhere = await callFrom("127.0.0.3", srv.url, "GET", "/v1/tokens", { token: admin });
    assert.equal(elsewhere.status, 200);
  });

  it("limits guessed share links from an address: 410 five times, then 429", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await callFrom("127.0.0.4", srv.url, "POST", `/v1/shared/${shareGuess(i)}:reveal`)).status);
    assert.deepEqual(statuses, [410, 410, 410, 410, 410, 429, 429]);
  });

  it("records auth.failed events per address with counts, never the presented token or a digest of it", () => {
    const r = spawnSync(process.execPath, [BIN, "audit", "list", "--json", "--oldest-first", "--limit", "1000"], {
      env: baseEnv({ COFFER_HOME: srv.home }),
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    const events = JSON.parse(r.stdout) as { action: string; actor: string; details: Record<string, unknown> }[];
    const failed = events.filter((e) => e.action === "auth.failed");
    assert.deepEqual(
      failed.map((e) => [e.actor, e.details["address"], e.details["credential"], e.details["failures"], e.details["limited"]]),
      [
        ["anonymous", "127.0.0.2", "token", 1, "no"],
        ["anonymous", "127.0.0.2", "token", 5, "yes"],
        ["anonymous", "127.0.0.4", "share-link", 1, "no"],
        ["anonymous", "127.0.0.4", "share-link", 5, "yes"],
      ],
    );
    for (const trace of ["CANARYguess", createHash("sha256").update(guess(0)).digest("hex").slice(0, 16), shareGuess(1).slice(13, 30)])
      assert.ok(!r.stdout.includes(trace), `the audit log holds ${trace}`);
  });

  it("refuses a share link whose minting token was revoked (410, like an unknown link), audited as denied", async () => {
    const from = "127.0.0.5";
    const put = await callFrom(from, srv.url, "PUT", "/v1/secrets/project/lim/K", { token: admin, body: { value: "v" } });
    assert.equal(put.status, 200);
    const minted = await callFrom(from, srv.url, "POST", "/v1/tokens", {
      token: admin,
      body: { name: "sharer", scopes: ["secrets:reveal"], owners: ["project/lim"] },
    });
    assert.equal(minted.status, 201, JSON.stringify(minted.body));
    const sharer = String(minted.body["token"]);
    const link = await callFrom(from, srv.url, "POST", "/v1/secrets/project/lim/K:share", { token: sharer, body: { reason: "handover" } });
    assert.equal(link.status, 201);
    const revoked = await callFrom(from, srv.url, "DELETE", `/v1/tokens/${String(minted.body["id"])}`, { token: admin });
    assert.equal(revoked.status, 200);
    const redeem = await callFrom("127.0.0.6", srv.url, "POST", new URL(String(link.body["url"])).pathname);
    assert.equal(redeem.status, 410);
    assert.equal(redeem.body["code"], "SHARE_LINK_INVALID");
    assert.equal(redeem.body["value"], undefined);
  });
});

describe("the failed-authentication limit holds across two servers on one PostgreSQL", () => {
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

  it("counts an address's failures on both servers: after 3 (alternating), both answer 429, a good token too", async () => {
    const env = { COFFER_DB_URL: db.url, COFFER_KEK_BASE64: KEK, COFFER_RATE_LIMIT_AUTH: "3/1m" };
    servers.push(await startServer({ env }));
    servers.push(await startServer({ env }));
    const [a, b] = servers;
    assert.ok(a !== undefined && b !== undefined);
    const admin = a.adminToken ?? b.adminToken ?? "";
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await callFrom("127.0.0.7", (i % 2 === 0 ? a : b).url, "GET", "/v1/tokens", { token: guess(i) })).status);
    assert.deepEqual(statuses, [401, 401, 401]);
    for (const srv of [a, b]) {
      assert.equal((await callFrom("127.0.0.7", srv.url, "GET", "/v1/tokens", { token: guess(9) })).status, 429);
      assert.equal((await callFrom("127.0.0.7", srv.url, "GET", "/v1/tokens", { token: admin })).status, 429);
      assert.equal((await callFrom("127.0.0.8", srv.url, "GET", "/v1/tokens", { token: admin })).status, 200);
    }
  });
});

const KEK = Buffer.alloc(32, 9).toString("base64");
