import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";
import { rawExec } from "../fixtures/raw-db.ts";

const CANARY = "rolled-back-canary-7f3e";

describe("coffer CLI against a database changed outside Coffer", () => {
  let cli: CliHarness;
  before(() => {
    cli = new CliHarness();
    cli.run(["secrets", "set", "project/app", "DB_PASSWORD", "--stdin"], { input: CANARY });
    cli.run(["secrets", "set", "project/app", "DB_PASSWORD", "--stdin"], { input: "current-value" });
    cli.run(["secrets", "set", "project/staging", "DB_PASSWORD", "--stdin"], { input: "current-value" });
    cli.run(["secrets", "set", "project/staging", "API_URL", "--stdin"], { input: "https://staging" });
    cli.run(["secrets", "set", "project/app", "API_URL", "--stdin"], { input: "https://prod" });
  });
  after(() => {
    cli.cleanup();
  });

  it("audit list --json carries each event's MAC, and audit verify --anchor checks a recorded head", () => {
    const list = cli.run(["audit", "list", "--json"]);
    assert.equal(list.status, 0, list.stderr);
    const events = JSON.parse(list.stdout) as { seq: number; mac: string }[];
    const head = events.at(-1);
    assert.ok(head !== undefined);
    assert.match(head.mac, /^[0-9a-f]{64}$/);
    const ok = cli.run(["audit", "verify", "--anchor", `${String(head.seq)}:${head.mac}`]);
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /anchor .* found/);
    const wrong = cli.run(["audit", "verify", "--anchor", `${String(head.seq)}:${"ab".repeat(32)}`]);
    assert.equal(wrong.status, 7);
    assert.match(wrong.stdout, /not the recorded one/);
    const bad = cli.run(["audit", "verify", "--anchor", "nonsense"]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /error\[INVALID_INPUT\]: anchor:/);
  });

  it("secrets check reports a value reused across owners and drift, without printing values", () => {
    const r = cli.run(["secrets", "check", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as {
      reused: { secrets: { owner: string; key: string }[] }[];
      drift: { key: string; owners: string[] }[];
      unchecked: unknown[];
    };
    assert.deepEqual(
      report.reused.map((g) => g.secrets.map((s) => `${s.owner} ${s.key}`).sort()),
      [["project/app DB_PASSWORD", "project/staging DB_PASSWORD"]],
    );
    assert.deepEqual(
      report.drift.map((d) => [d.key, [...d.owners].sort()]),
      [["API_URL", ["project/app", "project/staging"]]],
    );
    assert.deepEqual(report.unchecked, []);
    assert.ok(!r.stdout.includes("current-value") && !r.stdout.includes("https://"));
  });

  it("refuses get --reveal and run on a rolled-back secret with STATE_TAMPERED, and audit verify names it", async () => {
    await rawExec({ home: cli.home, dbUrl: null }, [
      "UPDATE secrets SET current_version = 1 WHERE owner_id = 'app' AND key_name = 'DB_PASSWORD'",
    ]);
    const get = cli.run(["secrets", "get", "project/app", "DB_PASSWORD", "--reveal", "--reason", "check", "--yes"]);
    assert.equal(get.status, 4, get.stdout + get.stderr);
    assert.match(get.stderr, /^error\[STATE_TAMPERED\]: the stored state of project\/app DB_PASSWORD does not verify/);
    const run = cli.run([
      "run",
      "--owner",
      "project/app",
      "--",
      process.execPath,
      "-e",
      "process.stdout.write(process.env.DB_PASSWORD ?? 'none')",
    ]);
    assert.equal(run.status, 4, run.stdout + run.stderr);
    assert.match(run.stderr, /error\[STATE_TAMPERED\]/);
    const verify = cli.run(["audit", "verify"]);
    assert.equal(verify.status, 7);
    assert.match(verify.stdout, /project\/app DB_PASSWORD: .*rolled back/);
    for (const out of [get, run, verify]) assert.ok(!(out.stdout + out.stderr).includes(CANARY));
  });
});
