import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";

describe("coffer run", () => {
  let cli: CliHarness;
  before(() => {
    cli = new CliHarness();
    cli.run(["secrets", "set", "project/app", "DB_PASSWORD", "--stdin"], { input: "pw-123" });
    cli.run(["secrets", "set", "project/app", "API_TOKEN", "--stdin"], { input: "tok-456" });
    cli.run(["secrets", "set", "project/app", "OTHER_VAR", "--stdin"], { input: "other" });
  });
  after(() => {
    cli.cleanup();
  });

  const printEnv =
    "process.stdout.write(JSON.stringify({db: process.env.DB_PASSWORD ?? null, api: process.env.API_TOKEN ?? null, other: process.env.OTHER_VAR ?? null}))";

  it("injects the owner's secrets as environment variables", () => {
    const r = cli.run(["run", "--owner", "project/app", "--", process.execPath, "-e", printEnv]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { db: "pw-123", api: "tok-456", other: "other" });
  });

  it("injects only keys under --prefix", () => {
    const r = cli.run(["run", "--owner", "project/app", "--prefix", "DB_", "--", process.execPath, "-e", printEnv]);
    assert.deepEqual(JSON.parse(r.stdout), { db: "pw-123", api: null, other: null });
  });

  it("keeps variables already set with --no-override, and overrides them by default", () => {
    const keep = cli.run(["run", "--owner", "project/app", "--no-override", "--", process.execPath, "-e", printEnv], {
      env: { DB_PASSWORD: "from-env" },
    });
    assert.equal((JSON.parse(keep.stdout) as { db: string }).db, "from-env");
    const over = cli.run(["run", "--owner", "project/app", "--", process.execPath, "-e", printEnv], { env: { DB_PASSWORD: "from-env" } });
    assert.equal((JSON.parse(over.stdout) as { db: string }).db, "pw-123");
  });

  it("exits with the child's exit code", () => {
    const r = cli.run(["run", "--owner", "project/app", "--", process.execPath, "-e", "process.exit(42)"]);
    assert.equal(r.status, 42);
  });

  it("forwards SIGTERM to the child and exits with its status", async () => {
    const child = cli.start([
      "run",
      "--owner",
      "project/app",
      "--",
      process.execPath,
      "-e",
      "process.on('SIGTERM', () => process.exit(7)); console.log('ready'); setInterval(() => {}, 1000)",
    ]);
    try {
      let out = "";
      child.stdout.setEncoding("utf8");
      while (!out.includes("ready")) out += String((await once(child.stdout, "data"))[0]);
      child.kill("SIGTERM");
      const [code] = (await once(child, "exit")) as [number | null];
      assert.equal(code, 7);
    } finally {
      if (child.exitCode === null && child.pid !== undefined) child.kill("SIGKILL");
    }
  });

  it("exits 128 + the signal number when the child is killed by a signal", () => {
    const r = cli.run(["run", "--owner", "project/app", "--", process.execPath, "-e", "process.kill(process.pid, 'SIGKILL')"]);
    assert.equal(r.status, 128 + 9);
  });

  it("reports a command that does not exist", () => {
    const r = cli.run(["run", "--owner", "project/app", "--", "no-such-command-coffer"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^error\[USAGE\]: command not found: no-such-command-coffer/);
  });

  it("records one audited reveal per injected secret, naming the command", () => {
    const r = cli.run(["audit", "list", "--action", "secret.reveal", "--limit", "1000", "--json"]);
    const events = JSON.parse(r.stdout) as { reason: string; key: string }[];
    assert.ok(events.filter((e) => e.reason === "coffer run node").length >= 3);
  });
});

describe("coffer run argument parsing", () => {
  let cli: CliHarness;
  before(() => {
    cli = new CliHarness();
    cli.run(["secrets", "set", "project/p", "A", "--stdin"], { input: "a-value" });
  });
  after(() => {
    cli.cleanup();
  });

  it("behaves the same through commander (global options first) as through the fast path", () => {
    const script = "process.stdout.write(process.env.A ?? 'unset')";
    const fast = cli.run(["run", "--owner", "project/p", "--", process.execPath, "-e", script]);
    const viaCommander = cli.run(["--home", cli.home, "run", "--owner", "project/p", "--", process.execPath, "-e", script]);
    assert.equal(fast.stdout, "a-value");
    assert.equal(viaCommander.stdout, "a-value");
    assert.equal(fast.status, viaCommander.status);
  });

  it("reads --allow-env, --keep-env, --strict and --allow-empty the same through commander", () => {
    for (const lead of [[], ["--home", cli.home]]) {
      const empty = cli.run([...lead, "run", "--owner", "project/none", "--allow-empty", "--", process.execPath, "-e", "0"]);
      assert.equal(empty.status, 0, empty.stderr);
      const refused = cli.run([...lead, "run", "--owner", "project/none", "--", process.execPath, "-e", "0"]);
      assert.equal(refused.status, 3);
      const script = "process.stdout.write(String(process.env.COFFER_KEK_PROVIDER) + ' ' + process.env.A)";
      const kept = cli.run(
        [...lead, "run", "--owner", "project/p", "--strict", "--keep-env", "X", "--allow-env", "Y", "--", process.execPath, "-e", script],
        {
          env: { COFFER_KEK_PROVIDER: "file" },
        },
      );
      assert.equal(kept.stdout, "file a-value", kept.stderr);
    }
  });

  it("answers --help with the usage", () => {
    const r = cli.run(["run", "--help"]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: coffer run \[options\] <command\.\.\.>/);
  });

  it("passes --help after -- to the child instead", () => {
    const r = cli.run([
      "run",
      "--owner",
      "project/p",
      "--",
      process.execPath,
      "-e",
      "process.stdout.write(process.argv.slice(1).join(' '))",
      "--",
      "--help",
    ]);
    assert.equal(r.stdout, "--help");
  });

  it("refuses a missing --owner or command with a usage error", () => {
    const noOwner = cli.run(["run", "--", process.execPath, "-e", "0"]);
    assert.equal(noOwner.status, 2);
    assert.match(noOwner.stderr, /^error\[USAGE\]: .*--owner/);
    const noCommand = cli.run(["run", "--owner", "project/p"]);
    assert.equal(noCommand.status, 2);
    assert.match(noCommand.stderr, /^error\[USAGE\]: missing required argument 'command'/);
    const unknown = cli.run(["run", "--owner", "project/p", "--bogus", "--", "true"]);
    assert.equal(unknown.status, 2);
  });
});
