import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CliHarness, type CliResult } from "../fixtures/cli.ts";
import { removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

type View = { key: string; version: number; currentVersion: number; meta: Record<string, string>; deletedAt: string | null };

function ok(r: CliResult): CliResult {
  assert.equal(r.status, 0, r.stderr);
  return r;
}

/**
 * `secrets list --deleted` marks deleted entries; `secrets get --version N` says that the
 * metadata shown is the secret's current one (metadata is kept per secret, not per version).
 * Local mode and remote mode (a real server) print the same.
 */
describe("secrets list --deleted and get --version: what is deleted, whose metadata (local and remote)", () => {
  let srv: ServerHandle;
  let local: CliHarness;
  let remote: CliHarness;

  before(async () => {
    srv = await startServer();
    local = new CliHarness({ COFFER_KEK_PROVIDER: "file" });
    remote = new CliHarness({ COFFER_ADDR: srv.url, COFFER_TOKEN: srv.adminToken ?? "" });
    for (const cli of [local, remote]) {
      ok(cli.run(["secrets", "set", "project/m", "DB", "--stdin"], { input: "one" }));
      ok(cli.run(["secrets", "set", "project/m", "DB", "--stdin", "--meta", "env=prod"], { input: "two" }));
      ok(cli.run(["secrets", "set", "project/m", "GONE", "--stdin", "--meta", "team=ops"], { input: "x" }));
      ok(cli.run(["secrets", "unset", "project/m", "GONE"]));
    }
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
    local.cleanup();
    remote.cleanup();
  });

  for (const mode of ["local", "remote"] as const) {
    const cli = (): CliHarness => (mode === "local" ? local : remote);

    it(`${mode}: list --deleted marks the deleted entry in a DELETED column, and JSON has deletedAt`, () => {
      const human = ok(cli().run(["secrets", "list", "project/m", "--deleted"])).stdout.split("\n");
      assert.match(human[0] ?? "", /^OWNER +KEY +VERSION +VALUE +UPDATED +DELETED$/);
      const gone = human.find((l) => l.includes(" GONE "));
      const live = human.find((l) => l.includes(" DB "));
      assert.match(gone ?? "", /deleted \d{4}-\d\d-\d\dT[\d:.]+Z$/);
      assert.doesNotMatch(live ?? "", /deleted/);
      const withMeta = ok(cli().run(["secrets", "list", "project/m", "--deleted", "--meta"])).stdout;
      assert.match(withMeta, /GONE .*deleted \d{4}-[^ ]+ +team=ops\n/);
      // Without --deleted: no deleted entry, no column.
      const plain = ok(cli().run(["secrets", "list", "project/m"])).stdout;
      assert.doesNotMatch(plain, /GONE|DELETED/);
      const json = JSON.parse(ok(cli().run(["secrets", "list", "project/m", "--deleted", "--json"])).stdout) as View[];
      assert.deepEqual(
        json.map((v) => [v.key, v.deletedAt === null]),
        [
          ["DB", true],
          ["GONE", false],
        ],
      );
    });

    it(`${mode}: get --version 1 says the metadata is the current version's (v2), in text and JSON`, () => {
      const old = ok(cli().run(["secrets", "get", "project/m", "DB", "--version", "1"])).stdout;
      assert.equal(old, "project/m DB v1 ******** env=prod (metadata of the current version, v2)\n");
      const current = ok(cli().run(["secrets", "get", "project/m", "DB"])).stdout;
      assert.equal(current, "project/m DB v2 ******** env=prod\n");
      const json = JSON.parse(ok(cli().run(["secrets", "get", "project/m", "DB", "--version", "1", "--json"])).stdout) as View;
      assert.equal(json.version, 1);
      assert.equal(json.currentVersion, 2);
      assert.deepEqual(json.meta, { env: "prod" });
    });
  }

  it("remote prints the same as local", () => {
    for (const args of [
      ["secrets", "list", "project/m", "--deleted"],
      ["secrets", "get", "project/m", "DB", "--version", "1"],
    ]) {
      const norm = (t: string): string => t.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "<time>");
      assert.equal(norm(ok(remote.run(args)).stdout), norm(ok(local.run(args)).stdout), args.join(" "));
    }
  });
});
