import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";
import { removeHome, startServer } from "../fixtures/server.ts";

/** A plain TCP listener on 127.0.0.1 that holds a port, as another program would. */
async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  assert.ok(typeof address === "object" && address !== null);
  return { server, port: address.port };
}

describe("coffer serve: starting (real child processes)", () => {
  const cli = new CliHarness({ COFFER_KEK_PROVIDER: "file" });
  after(() => {
    cli.cleanup();
  });

  it("starts without a deprecation or any other process warning", async () => {
    const srv = await startServer({ env: { COFFER_KEK_PROVIDER: "file" } });
    try {
      const out = srv.output();
      assert.match(out, /coffer listening on http:\/\/127\.0\.0\.1:\d+/);
      assert.doesNotMatch(out, /FSTDEP|DeprecationWarning|Warning:|\(node:\d+\)/);
    } finally {
      assert.equal(await srv.stop(), 0);
      removeHome(srv.home);
    }
  });

  it("a port in use: LISTEN_FAILED naming the host and port and what to do, exit 9, no token printed", async () => {
    const held = await holdPort();
    try {
      const r = cli.run(["serve", "--port", String(held.port)]);
      assert.equal(r.status, 9, r.stderr);
      assert.equal(r.stdout, "", "nothing listens, so no token is shown");
      assert.match(
        r.stderr,
        new RegExp(
          `^error\\[LISTEN_FAILED\\]: port ${String(held.port)} on 127\\.0\\.0\\.1 is in use: stop the other process or pass --port`,
          "m",
        ),
      );
      assert.doesNotMatch(r.stderr, /INTERNAL|unexpected/);
    } finally {
      await new Promise((resolve) => held.server.close(resolve));
    }
  });

  it("--port out of range or not a number: INVALID_INPUT naming the port and its range, exit 2, nothing created", () => {
    for (const port of ["99999", "65536", "-1", "http"]) {
      const home = mkdtempSync(join(tmpdir(), "coffer-port-"));
      try {
        const r = cli.run(["serve", "--port", port], { env: { COFFER_HOME: home } });
        assert.equal(r.status, 2, `${port}: ${r.stderr}`);
        assert.equal(r.stdout, "");
        assert.match(r.stderr, /^error\[INVALID_INPUT\]: port: must be a whole number/m, port);
        if (port === "99999") assert.match(r.stderr, /from 1 to 65535 \(or 0 for any free port\)/);
        assert.equal(existsSync(join(home, "coffer.db")), false, `${port}: no database created`);
      } finally {
        removeHome(home);
      }
    }
  });
});
