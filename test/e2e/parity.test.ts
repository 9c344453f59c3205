import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliHarness, type CliResult } from "../fixtures/cli.ts";
import { call, removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

/**
 * What must differ between a store opened by the CLI and a server's store, and nothing else:
 * - times (ISO 8601), and a token's last use (the remote run itself uses its token);
 * - who acted: `local:<os user>` locally, `token:<id>` remotely; a request id exists only over HTTP;
 * - generated ids: tokens (`t_…`; the server's first is `t_bootstrap`), scope keys (`sk_…`), rotation jobs (`rj_…`), token secrets
 *   (`coffer_…`);
 * - what each store's own keys make: master-key fingerprints and audit-chain MACs;
 * - runs of spaces: table columns are as wide as their longest cell, which the above changes.
 */
function normalize(text: string): string {
  return text
    .replace(/"lastUsedAt": ("[^"]*"|null)/g, '"lastUsedAt": <last use>')
    .replace(/"requestId": ("[^"]*"|null)/g, '"requestId": <request>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "<time>")
    .replace(/\b(local|token):[A-Za-z0-9_.-]+/g, "<actor>")
    .replace(/\bcoffer_[A-Za-z0-9_-]{43}\b/g, "<token>")
    .replace(/\b(t|sk|rj)_([0-9a-f]{8,}|bootstrap)\b/g, "<$1 id>")
    .replace(/"fingerprint": "[0-9a-f]+"/g, '"fingerprint": <fingerprint>')
    .replace(/"mac": "[0-9a-f]+"/g, '"mac": <mac>')
    .replace(/ {2,}/g, "  ");
}

/**
 * One list of commands, good input and bad, run by the real CLI in local mode (its own SQLite
 * and key file) and in remote mode (`COFFER_ADDR` + `COFFER_TOKEN`, an admin token, against a
 * real `coffer serve` on 127.0.0.1): the same stdout, stderr and exit status after
 * {@link normalize}. For the mistakes made over HTTP directly, the problem's `detail` is the
 * CLI's message.
 */
describe("parity: every command the same locally and against a server", () => {
  let srv: ServerHandle;
  let local: CliHarness;
  let remote: CliHarness;

  before(async () => {
    srv = await startServer();
    assert.ok(srv.adminToken !== null, "a fresh server prints its first admin token");
    local = new CliHarness({ COFFER_KEK_PROVIDER: "file" });
    remote = new CliHarness({ COFFER_ADDR: srv.url, COFFER_TOKEN: srv.adminToken });
    // The server's store starts with its first admin token; the local one gets the same.
    local.run(["token", "create", "--name", "first admin", "--scopes", "admin", "--owners", "*"]);
    writeFileSync(join(local.home, "app.env"), "A=1\n");
    writeFileSync(join(remote.home, "app.env"), "A=1\n");
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
    local.cleanup();
    remote.cleanup();
  });

  const same = (args: readonly string[] | ((h: CliHarness) => readonly string[]), input?: string): CliResult => {
    const argsOf = (h: CliHarness): readonly string[] => (typeof args === "function" ? args(h) : args);
    const opts = input === undefined ? {} : { input };
    const l = local.run(argsOf(local), opts);
    const r = remote.run(argsOf(remote), opts);
    const what = argsOf(remote).join(" ");
    assert.equal(r.status, l.status, `${what}: exit status (local stderr: ${l.stderr}; remote stderr: ${r.stderr})`);
    assert.equal(normalize(r.stdout), normalize(l.stdout), `${what}: stdout`);
    assert.equal(normalize(r.stderr), normalize(l.stderr), `${what}: stderr`);
    return l;
  };
  const fails = (code: string, args: readonly string[], input?: string): string => {
    const l = same(args, input);
    assert.notEqual(l.status, 0, `${args.join(" ")} must fail`);
    assert.match(l.stderr, new RegExp(`^error\\[${code}\\]: `), `${args.join(" ")}: ${l.stderr}`);
    return l.stderr.replace(/^error\[[A-Z_]+\]: /, "").trimEnd();
  };

  it("secrets, templates, render and run print the same", () => {
    assert.equal(same(["secrets", "set", "project/acme", "DB_PASSWORD", "--stdin", "--meta", "env=prod"], "pw-1\n").status, 0);
    same(["secrets", "set", "project/acme", "API_KEY", "--stdin"], "k-1\n");
    same(["secrets", "get", "project/acme", "DB_PASSWORD"]);
    same(["secrets", "get", "project/acme", "DB_PASSWORD", "--json"]);
    assert.equal(same(["secrets", "get", "project/acme", "DB_PASSWORD", "--reveal", "--yes", "--reason", "parity"]).stdout, "pw-1");
    same(["secrets", "list", "project/acme"]);
    same(["secrets", "list", "project/acme", "--json", "--prefix", "DB"]);
    same(["secrets", "history", "project/acme", "DB_PASSWORD"]);
    same(["secrets", "generate", "project/acme", "GENERATED", "--length", "20", "--if-missing"]);
    same(["secrets", "generate", "project/acme", "GENERATED", "--if-missing", "--json"]);
    same(["secrets", "rotate", "project/acme", "API_KEY"]);
    same(["secrets", "unset", "project/acme", "API_KEY"]);
    same(["secrets", "list", "project/acme", "--deleted"]);
    same(["secrets", "check"]);
    same(["secrets", "export", "project/acme"]);
    same((h) => ["secrets", "import", "--file", join(h.home, "app.env"), "--owner", "project/imported", "--allow-plaintext"]);
    same(["template", "put", "project/acme", "app.env"], 'DB={{ secret "DB_PASSWORD" }}\n');
    same(["template", "list", "project/acme"]);
    same(["template", "get", "project/acme", "app.env"]);
    assert.equal(same(["render", "--stored", "project/acme/app.env"]).stdout, "DB='pw-1'\n");
    same(["run", "--owner", "project/acme", "--", process.execPath, "-e", "process.stdout.write(process.env.DB_PASSWORD ?? '')"]);
  });

  it("tokens, keys, erase and the audit log print the same", () => {
    const created = same(["token", "create", "--name", "ci", "--scopes", "secrets:read", "--owners", "project/acme", "--json"]);
    assert.match(created.stdout, /"token": "coffer_/);
    same(["token", "list", "--json"]);
    const revoke = (h: CliHarness): readonly string[] => {
      const list = JSON.parse(h.run(["token", "list", "--json"]).stdout) as { id: string; name: string }[];
      return ["token", "revoke", list.find((t) => t.name === "ci")?.id ?? "?"];
    };
    same(revoke);
    same(["keys", "status", "--json"]);
    same(["keys", "rekey", "project/acme"]);
    same(["secrets", "set", "project/gone", "X", "--stdin"], "x\n");
    same(["erase", "project/gone", "--yes", "--backup-retention", "30d"]);
    same(["audit", "list", "--action", "secret.reveal", "--json"]);
    same(["audit", "list", "--action", "owner.erase"]);
  });

  it("the same mistake gets the same message, code and exit status", () => {
    fails("INVALID_INPUT", ["secrets", "set", "bogus", "KEY", "--stdin"], "v\n");
    fails("INVALID_INPUT", ["secrets", "set", "project/acme", "bad key!", "--stdin"], "v\n");
    fails("INVALID_INPUT", ["secrets", "set", "project/acme", "X", "--stdin", "--meta", "novalue"], "v\n");
    fails("CONFLICT", ["secrets", "set", "project/acme", "DB_PASSWORD", "--stdin", "--expect-version", "7"], "v\n");
    fails("NOT_FOUND", ["secrets", "get", "project/acme", "MISSING"]);
    fails("NOT_FOUND", ["secrets", "get", "project/acme", "DB_PASSWORD", "--version", "99"]);
    fails("INVALID_INPUT", ["secrets", "list", "bogus"]);
    fails("INVALID_INPUT", ["secrets", "generate", "project/acme", "G2", "--charset", "emoji"]);
    fails("USAGE", ["secrets", "import", "--file", join(local.home, "app.env"), "--allow-plaintext"]);
    fails("INVALID_INPUT", ["run", "--owner", "bogus", "--", "true"]);
    fails("INVALID_INPUT", ["template", "put", "project/acme", "bad name"], "x\n");
    fails("INVALID_INPUT", ["token", "create", "--name", "x", "--scopes", "secrets:everything", "--owners", "project/acme"]);
    fails("NOT_FOUND", ["token", "revoke", "t_0000000000000000"]);
    fails("INVALID_INPUT", ["keys", "rekey", "bogus"]);
    fails("NOT_FOUND", ["keys", "rekey", "project/nothing-stored"]);
    fails("INVALID_INPUT", ["keys", "retire", "primary"]);
    fails("KEY_NOT_FOUND", ["keys", "retire", "nope"]);
    fails("INVALID_INPUT", ["keys", "rotate", "--kid", "bad kid!"]);
    fails("INVALID_INPUT", ["erase", "bogus", "--yes"]);
    fails("NOT_FOUND", ["erase", "project/nothing-stored", "--yes"]);
    fails("INVALID_INPUT", ["erase", "project/acme", "--yes", "--backup-retention", "3 weeks"]);
    fails("INVALID_INPUT", ["audit", "list", "--owner", "bogus"]);
    fails("INVALID_INPUT", ["audit", "verify", "--anchor", "nonsense"]);
  });

  it("says over HTTP what the CLI says, in the problem's detail", async () => {
    const cli = local
      .run(["keys", "rekey", "bogus"])
      .stderr.replace(/^error\[[A-Z_]+\]: /, "")
      .trimEnd();
    const rekey = await call(srv.url, "POST", "/v1/admin/encryption/rekey", { token: srv.adminToken, body: { owner: "bogus" } });
    assert.equal(rekey.status, 400);
    assert.equal((rekey.body as { detail: string }).detail, cli);
    const scopes = local.run(["token", "create", "--name", "x", "--scopes", "secrets:everything", "--owners", "project/acme"]);
    const created = await call(srv.url, "POST", "/v1/tokens", {
      token: srv.adminToken,
      body: { name: "x", scopes: ["secrets:everything"], owners: ["project/acme"] },
    });
    assert.equal((created.body as { detail: string }).detail, scopes.stderr.replace(/^error\[[A-Z_]+\]: /, "").trimEnd());
  });

  it("refuses the local-only commands when remote settings are present, touching nothing", () => {
    for (const args of [
      ["keys", "split", "--shares", "3", "--threshold", "2"],
      ["keys", "combine", "--stdin"],
      ["migrate"],
      ["serve", "--port", "0"],
      ["import", "--legacy", "x.csv"],
    ]) {
      const viaEnv = remote.run(args);
      assert.equal(viaEnv.status, 2, `${args.join(" ")}: ${viaEnv.stderr}`);
      assert.match(
        viaEnv.stderr,
        /^error\[USAGE\]: coffer .* works only on this machine's database and keys, not against a server; unset COFFER_ADDR/,
      );
      const viaFlag = local.run(["--remote", srv.url, ...args]);
      assert.equal(viaFlag.status, 2, `${args.join(" ")}: ${viaFlag.stderr}`);
      assert.match(viaFlag.stderr, /leave out --remote to run it locally/);
    }
  });
});
