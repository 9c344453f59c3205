import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

// Bursts of 8 concurrent PUTs with one Idempotency-Key, 150 times: the SQLite store once hung
// here (a request never answered) when concurrent transactions shared one commit under the
// store's lock. Bounded: each burst must finish within 10 s.
describe("bursts of concurrent idempotent PUTs over HTTP (SQLite)", () => {
  let srv: ServerHandle;
  let admin = "";
  before(async () => {
    srv = await startServer({ env: { COFFER_LOG_LEVEL: "trace", COFFER_RATE_LIMIT_REVEAL: "5/1m", COFFER_REAUTH_WINDOW: "2s" } });
    admin = srv.adminToken ?? "";
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
  });
  it("answers every request of every burst, each with 200", async () => {
    for (let round = 0; round < 150; round++) {
      const timer = new Promise((_, rej) => {
        setTimeout(() => {
          rej(new Error(`no answer within 10 s in burst ${String(round)}`));
        }, 10_000).unref();
      });
      const many = Promise.all(
        Array.from({ length: 8 }, () =>
          call(srv.url, "PUT", `/v1/secrets/project/idem/C${String(round)}`, {
            token: admin,
            body: { value: "c" },
            headers: { "idempotency-key": `idem-${String(round)}` },
          }),
        ),
      );
      const r = (await Promise.race([many, timer])) as { status: number }[];
      assert.deepEqual(
        r.map((x) => x.status),
        Array(8).fill(200),
      );
    }
  });
});
