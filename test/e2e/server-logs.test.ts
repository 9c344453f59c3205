import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { call, removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

// The server writes its log lines in batches (src/server/serve.ts, 64 KiB), so a quiet server's
// lines must still reach stderr on their own while it runs (the periodic flush), not only at
// shutdown; and a reveal's only line at `info` is its request line (the service's own line is
// at debug; the audit event is the reveal's record).
describe("coffer serve: request log lines reach stderr while the server runs", () => {
  let srv: ServerHandle;
  before(async () => {
    srv = await startServer();
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
  });

  /** The stderr lines carrying `reqId`, once they appear (bounded: 20 s). */
  async function linesOf(reqId: string): Promise<Record<string, unknown>[]> {
    for (let i = 0; i < 200; i++) {
      const lines = srv
        .output()
        .split("\n")
        .filter((l) => l.startsWith("{") && l.includes(reqId))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      if (lines.length > 0) return lines;
      await sleep(100);
    }
    assert.fail(`no log line for ${reqId} while the server runs:\n${srv.output()}`);
  }

  it("writes a single request's line without waiting for more lines or for shutdown", async () => {
    const token = srv.adminToken;
    assert.ok(token !== null);
    const put = await call(srv.url, "PUT", "/v1/secrets/project/logs/K", { token, body: { value: "v-logs" } });
    assert.equal(put.status, 200, put.text);
    const r = await call(srv.url, "POST", "/v1/secrets/project/logs/K:reveal", {
      token,
      body: { reason: "log check" },
      headers: { "x-request-id": "log-check-1" },
    });
    assert.equal(r.status, 200, r.text);
    const lines = await linesOf("log-check-1");
    assert.deepEqual(
      lines.map((l) => [l["msg"], l["status"], l["route"]]),
      [["request", 200, "/v1/secrets/:ownerType/:ownerId/:action"]],
    );
    assert.ok(!srv.output().includes("v-logs"));
  });
});
