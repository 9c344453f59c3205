import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CliHarness, type CliResult } from "../fixtures/cli.ts";
import { call, removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

const CANARY = "CANARY-remote-41c9e0-do-not-leak";

/** Output with what legitimately differs between two stores (times, actors) replaced. */
function normalize(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "<time>")
    .replace(/\b(local|token):[A-Za-z0-9_.-]+/g, "<actor>")
    .replace(/ {2,}/g, "  ");
}

/**
 * The same CLI commands in local mode (their own SQLite) and in remote mode (a real server
 * in another process, through the SDK): the same output and the same exit statuses.
 */
describe("remote CLI (--remote / COFFER_ADDR + COFFER_TOKEN) against a real server", () => {
  let srv: ServerHandle;
  let local: CliHarness;
  let remote: CliHarness;
  let token: string;

  before(async () => {
    srv = await startServer();
    const t = await call(srv.url, "POST", "/v1/tokens", {
      token: srv.adminToken,
      body: { name: "cli", scopes: ["secrets:read", "secrets:write", "secrets:reveal", "audit:read"], owners: ["project/acme"] },
    });
    token = (t.body as { token: string }).token;
    local = new CliHarness({ COFFER_KEK_PROVIDER: "file" });
    remote = new CliHarness({ COFFER_ADDR: srv.url, COFFER_TOKEN: token });
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
    local.cleanup();
    remote.cleanup();
  });

  const both = (args: readonly string[], input?: string): { l: CliResult; r: CliResult } => ({
    l: local.run(args, input === undefined ? {} : { input }),
    r: remote.run(args, input === undefined ? {} : { input }),
  });
  const same = (args: readonly string[], input?: string): CliResult => {
    const { l, r } = both(args, input);
    assert.equal(r.status, l.status, `${args.join(" ")}: exit status (remote stderr: ${r.stderr})`);
    assert.equal(normalize(r.stdout), normalize(l.stdout), `${args.join(" ")}: stdout`);
    assert.equal(normalize(r.stderr), normalize(l.stderr), `${args.join(" ")}: stderr`);
    return r;
  };

  it("secrets set/get/reveal/list/history/rotate/unset print the same as local mode", () => {
    assert.equal(same(["secrets", "set", "project/acme", "DB_PASSWORD", "--stdin", "--meta", "env=prod"], `${CANARY}\n`).status, 0);
    same(["secrets", "set", "project/acme", "API_KEY", "--stdin"], "k-1\n");
    same(["secrets", "get", "project/acme", "DB_PASSWORD"]);
    same(["secrets", "get", "project/acme", "DB_PASSWORD", "--json"]);
    assert.equal(same(["secrets", "get", "project/acme", "DB_PASSWORD", "--reveal", "--yes", "--reason", "compare"]).stdout, CANARY);
    same(["secrets", "get", "project/acme", "DB_PASSWORD", "--reveal", "--yes", "--reason", "compare", "--json"]);
    same(["secrets", "list", "project/acme"]);
    same(["secrets", "list", "project/acme", "--prefix", "DB_", "--meta"]);
    same(["secrets", "list", "--json"]);
    same(["secrets", "set", "project/acme", "DB_PASSWORD", "--stdin", "--expect-version", "1"], "second\n");
    same(["secrets", "history", "project/acme", "DB_PASSWORD"]);
    same(["secrets", "rotate", "project/acme", "DB_PASSWORD"]);
    same(["secrets", "unset", "project/acme", "API_KEY"]);
    same(["secrets", "list", "project/acme", "--deleted"]);
  });

  it("fails with the same code, message and exit status", () => {
    assert.equal(same(["secrets", "get", "project/acme", "NOPE"]).status, 3);
    assert.equal(same(["secrets", "set", "project/acme", "DB_PASSWORD", "--stdin", "--expect-version", "9"], "x\n").status, 5);
    assert.equal(same(["secrets", "set", "project/acme", "bad name", "--stdin"], "x\n").status, 2);
    assert.equal(same(["secrets", "get", "project/acme", "DB_PASSWORD", "--reveal", "--yes", "--reason", " "]).status, 2);
  });

  it("coffer run injects the same environment", () => {
    const args = ["run", "--owner", "project/acme", "--", "sh", "-c", 'test "$DB_PASSWORD" = second && echo "ok ${#DB_PASSWORD}"'];
    assert.equal(same(args).stdout, "ok 6\n");
    // --remote given to the command, without COFFER_ADDR.
    const r = local.run(["run", "--remote", srv.url, "--owner", "project/acme", "--", "sh", "-c", 'echo "${#DB_PASSWORD}"'], {
      env: { COFFER_TOKEN: token },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "6\n");
  });

  it("audit list and verify work remotely", () => {
    const v = remote.run(["audit", "verify"]);
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /^audit chain intact: \d+ events, head seq \d+ mac [0-9a-f]{16}\n$/);
    const list = remote.run(["audit", "list", "--owner", "project/acme", "--json"]);
    assert.equal(list.status, 0, list.stderr);
    const events = JSON.parse(list.stdout) as { action: string; actor: string }[];
    assert.ok(events.some((e) => e.action === "secret.reveal" && e.actor.startsWith("token:")));
    const table = remote.run(["--remote", srv.url, "audit", "list", "--action", "secret.set"]);
    assert.match(table.stdout, /^SEQ\s+AT\s+ACTOR/);
  });

  it("refuses what the token may not do, and says what is wrong when it cannot work", () => {
    const denied = remote.run(["secrets", "get", "project/other", "K"]);
    assert.equal(denied.status, 6);
    assert.match(denied.stderr, /^error\[SCOPE_DENIED\]: not allowed: secrets:read on project\/other/);
    const noToken = local.run(["secrets", "list"], { env: { COFFER_ADDR: srv.url } });
    assert.equal(noToken.status, 6);
    assert.match(noToken.stderr, /^error\[UNAUTHENTICATED\]: remote mode needs a token: set COFFER_TOKEN/);
    const badToken = local.run(["secrets", "list"], { env: { COFFER_ADDR: srv.url, COFFER_TOKEN: `coffer_${"x".repeat(43)}` } });
    assert.equal(badToken.status, 6);
    const down = local.run(["secrets", "list", "--remote", "http://127.0.0.1:9"], { env: { COFFER_TOKEN: token } });
    assert.equal(down.status, 9);
    assert.match(down.stderr, /^error\[SERVER_UNAVAILABLE\]: cannot reach the Coffer server at http:\/\/127\.0\.0\.1:9/);
    const badAddr = local.run(["secrets", "list"], { env: { COFFER_ADDR: "ftp://x", COFFER_TOKEN: token } });
    assert.equal(badAddr.status, 2);
  });

  it("never prints the canary or the token outside an explicit reveal", () => {
    const everything = remote.allOutput().replaceAll(CANARY, "");
    assert.equal(everything.includes(token), false);
    assert.equal(srv.output().includes(CANARY), false);
    assert.equal(srv.output().includes(token), false);
  });
});
