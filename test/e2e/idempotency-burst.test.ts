import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

// Bursts of 8 concurrent PUTs with one Idempotency-Key: a request once went unanswered here.
// The cause was the audit log's grouped append losing an event appended while its drain was
// finishing (audit-append-now.test.ts); the SQLite shared commit made that window likely, and
// the refusals past the write rate limit (each audited) made it likelier still. Bounded: each
// burst must finish within 10 s.

/** One burst: 8 concurrent PUTs of one key with one Idempotency-Key, every answer awaited within 10 s. */
async function burst(srv: ServerHandle, token: string, round: number): Promise<number[]> {
  const timer = new Promise<never>((_, rej) => {
    setTimeout(() => {
      rej(new Error(`no answer within 10 s in burst ${String(round)}`));
    }, 10_000).unref();
  });
  const many = Promise.all(
    Array.from({ length: 8 }, () =>
      call(srv.url, "PUT", `/v1/secrets/project/idem/C${String(round)}`, {
        token,
        body: { value: "c" },
        headers: { "idempotency-key": `idem-${String(round)}` },
      }),
    ),
  );
  return (await Promise.race([many, timer])).map((x) => x.status);
}

describe("bursts of concurrent idempotent PUTs over HTTP (SQLite)", () => {
  let srv: ServerHandle;
  let admin = "";
  before(async () => {
    // The write limit is hit a few bursts in: from then on, every refusal is audited at once.
    srv = await startServer({ env: { COFFER_LOG_LEVEL: "trace", COFFER_RATE_LIMIT_WRITE: "60/1h" } });
    admin = srv.adminToken ?? "";
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
  });

  it("answers every request of every burst: 200 (written or replayed) or 429 past the write limit", async () => {
    let limited = 0;
    for (let round = 0; round < 150; round++) {
      const statuses = await burst(srv, admin, round);
      for (const s of statuses) assert.ok(s === 200 || s === 429, `burst ${String(round)}: ${statuses.join(",")}`);
      limited += statuses.filter((s) => s === 429).length;
    }
    assert.ok(limited > 0, "the write limit was reached (the audited refusals ran)");
  });
});

describe("bursts of concurrent idempotent PUTs, no write limit (SQLite)", () => {
  let srv: ServerHandle;
  let admin = "";
  before(async () => {
    srv = await startServer({ env: { COFFER_LOG_LEVEL: "trace", COFFER_RATE_LIMIT_WRITE: "off" } });
    admin = srv.adminToken ?? "";
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
  });

  it("answers every request of every burst with 200: one write, the rest replay it", async () => {
    for (let round = 0; round < 100; round++) assert.deepEqual(await burst(srv, admin, round), Array(8).fill(200));
    for (const key of ["C0", "C7", "C99"]) {
      const versions = await call(srv.url, "GET", `/v1/secrets/project/idem/${key}/versions`, { token: admin });
      assert.equal(versions.status, 200);
      assert.equal((versions.body as { items: unknown[] }).items.length, 1, `${key}: one write for its burst`);
    }
  });
});
