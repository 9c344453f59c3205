import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliHarness, type CliResult } from "../fixtures/cli.ts";
import { call, removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

/**
 * `coffer run` against someone who can write a secret (issue 10.2): real CLI processes, real
 * children, in local mode (SQLite in this process) and remote mode (a real server).
 */
const CANARY = "CANARY-run-7f3a91-do-not-leak";
const KEK = Buffer.alloc(32, 7).toString("base64");
const OWNERS = ["acme", "loader", "allow", "strict", "nul", "bin", "names", "empty", "acmee", "run404"].map((o) => `project/${o}`);

/** Prints the child's environment as JSON (the names asked for; null when unset). */
const printEnv = (...names: string[]): string[] => [
  process.execPath,
  "-e",
  `process.stdout.write(JSON.stringify(Object.fromEntries(${JSON.stringify(names)}.map((n) => [n, process.env[n] ?? null]))))`,
];

type Mode = { readonly name: "local" | "remote"; cli: CliHarness; credential: string; cleanup(): Promise<void> };

function localMode(): Promise<Mode> {
  const cli = new CliHarness({ COFFER_KEK_BASE64: KEK });
  const cleanup = (): Promise<void> => {
    cli.cleanup();
    return Promise.resolve();
  };
  return Promise.resolve({ name: "local", cli, credential: "COFFER_KEK_BASE64", cleanup });
}

async function remoteMode(): Promise<Mode> {
  const srv: ServerHandle = await startServer();
  const t = await call(srv.url, "POST", "/v1/tokens", {
    token: srv.adminToken,
    body: { name: "run", scopes: ["secrets:read", "secrets:write", "secrets:reveal", "audit:read"], owners: OWNERS },
  });
  const token = (t.body as { token: string }).token;
  const cli = new CliHarness({ COFFER_ADDR: srv.url, COFFER_TOKEN: token });
  return {
    name: "remote",
    cli,
    credential: "COFFER_TOKEN",
    cleanup: async () => {
      await srv.stop();
      removeHome(srv.home);
      cli.cleanup();
    },
  };
}

const ok = (r: CliResult, what: string): CliResult => {
  assert.equal(r.status, 0, `${what}: ${r.stderr}`);
  return r;
};

for (const make of [localMode, remoteMode]) {
  describe(`coffer run refuses to hand the process to a secret writer (${make.name.replace("Mode", "")} mode)`, () => {
    let m: Mode;
    let fake: string;
    let marker: string;
    const set = (owner: string, key: string, value: string): void => {
      ok(m.cli.run(["secrets", "set", owner, key, "--stdin"], { input: `${value}\n` }), `set ${key}`);
    };
    const setBytes = (owner: string, key: string, bytes: Buffer): void => {
      const f = join(m.cli.home, `${key}.bin`);
      writeFileSync(f, bytes);
      ok(m.cli.run(["secrets", "set", owner, key, "--file", f]), `set ${key}`);
    };
    const reveals = (owner: string): number =>
      (JSON.parse(ok(m.cli.run(["audit", "list", "--owner", owner, "--action", "secret.reveal", "--json"]), "audit").stdout) as unknown[])
        .length;

    before(async () => {
      m = await make();
      // A directory of fake binaries that would betray being run by leaving a marker file.
      fake = mkdtempSync(join(tmpdir(), "coffer-fake-bin-"));
      marker = join(fake, "HIJACKED");
      for (const bin of ["node", "env", "sh", "true"]) {
        writeFileSync(join(fake, bin), `#!/bin/sh\ntouch '${marker}'\necho hijacked\n`);
        chmodSync(join(fake, bin), 0o755);
      }
      set("project/acme", "APP_TOKEN", "app-1");
      set("project/loader", "PATH", fake);
      set("project/loader", "LD_PRELOAD", `/nonexistent/${CANARY}.so`);
      set("project/loader", "NODE_OPTIONS", `--require /nonexistent/${CANARY}.js`);
      set("project/loader", "BASH_ENV", `/nonexistent/${CANARY}.sh`);
      set("project/loader", "COFFER_TOKEN", CANARY);
      set("project/loader", "SAFE", "safe-1");
      set("project/allow", "NODE_OPTIONS", "--max-old-space-size=200");
      set("project/allow", "OTHER", "o");
      set("project/strict", "PYTHONSTARTUP", `/nonexistent/${CANARY}.py`);
      set("project/strict", "FINE", "fine");
      setBytes("project/nul", "GOOD", Buffer.from("good"));
      setBytes("project/nul", "HAS_NUL", Buffer.from(`before\0${CANARY}`));
      setBytes("project/bin", "BLOB", Buffer.from([0xff, 0xfe, 0x00, 0x41]));
      set("project/names", "app.port", "8080");
      set("project/names", "my-key", "dash");
      set("project/run404", "X", "x");
    });
    after(async () => {
      await m.cleanup();
      rmSync(fake, { recursive: true, force: true });
    });

    it("finds the command with the caller's PATH: a secret named PATH never chooses the binary", () => {
      for (const argv of [printEnv("PATH", "SAFE"), ["env"], ["sh", "-c", 'printf %s "$SAFE"']]) {
        const r = m.cli.run(["run", "--owner", "project/loader", "--", ...argv]);
        assert.equal(r.status, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /hijacked/);
        assert.equal(existsSync(marker), false, `${argv[0] ?? ""}: the fake binary ran`);
        assert.match(r.stderr, /coffer run: not injected: PATH \(/);
      }
      const r = m.cli.run(["run", "--owner", "project/loader", "--", ...printEnv("PATH", "SAFE")]);
      assert.deepEqual(JSON.parse(r.stdout), { PATH: m.cli.env["PATH"], SAFE: "safe-1" });
    });

    it("skips LD_PRELOAD, NODE_OPTIONS, BASH_ENV and COFFER_* by name, never printing their values", () => {
      const r = m.cli.run(["run", "--owner", "project/loader", "--", ...printEnv("LD_PRELOAD", "NODE_OPTIONS", "BASH_ENV", "SAFE")]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { LD_PRELOAD: null, NODE_OPTIONS: null, BASH_ENV: null, SAFE: "safe-1" });
      for (const name of ["LD_PRELOAD", "NODE_OPTIONS", "BASH_ENV", "COFFER_TOKEN", "PATH"])
        assert.match(r.stderr, new RegExp(`^coffer run: not injected: ${name} \\(.*--allow-env ${name}\\)$`, "m"));
      assert.ok(!r.stderr.includes(CANARY) && !r.stdout.includes(CANARY));
    });

    it("skips them with --no-override too, when the caller has not set them", () => {
      const r = m.cli.run(["run", "--owner", "project/loader", "--no-override", "--", ...printEnv("LD_PRELOAD", "NODE_OPTIONS", "SAFE")]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { LD_PRELOAD: null, NODE_OPTIONS: null, SAFE: "safe-1" });
      assert.match(r.stderr, /not injected: LD_PRELOAD/);
    });

    it("injects a named loader variable with --allow-env, and only that one", () => {
      const r = m.cli.run(["run", "--owner", "project/allow", "--allow-env", "NODE_OPTIONS", "--", ...printEnv("NODE_OPTIONS", "OTHER")]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { NODE_OPTIONS: "--max-old-space-size=200", OTHER: "o" });
      assert.equal(r.stderr, "");
      // (a shell, not node: the allowed NODE_OPTIONS of project/loader would stop node from starting)
      const other = m.cli.run([
        "run",
        "--owner",
        "project/loader",
        "--allow-env",
        "NODE_OPTIONS",
        "--",
        "sh",
        "-c",
        'printf %s "${LD_PRELOAD-unset}"',
      ]);
      assert.equal(other.status, 0, other.stderr);
      assert.equal(other.stdout, "unset");
      assert.match(other.stderr, /not injected: LD_PRELOAD/);
      assert.doesNotMatch(other.stderr, /not injected: NODE_OPTIONS/);
    });

    it("--strict fails with ENV_NAME_REFUSED, starts nothing and reveals nothing", () => {
      const before = reveals("project/strict");
      const r = m.cli.run(["run", "--owner", "project/strict", "--strict", "--", "sh", "-c", `touch '${marker}'`]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /^error\[ENV_NAME_REFUSED\]: --strict: would not inject PYTHONSTARTUP \(/);
      assert.equal(existsSync(marker), false);
      assert.equal(reveals("project/strict"), before, "a refused --strict run revealed secrets");
      assert.ok(!r.stderr.includes(CANARY));
      const allowed = m.cli.run([
        "run",
        "--owner",
        "project/strict",
        "--strict",
        "--allow-env",
        "PYTHONSTARTUP",
        "--",
        ...printEnv("FINE"),
      ]);
      assert.equal(allowed.status, 0, allowed.stderr);
      assert.deepEqual(JSON.parse(allowed.stdout), { FINE: "fine" });
    });

    it("does not pass Coffer's own credentials to the child, unless --keep-env names them", () => {
      const r = m.cli.run(["run", "--owner", "project/acme", "--", ...printEnv(m.credential, "COFFER_HOME", "APP_TOKEN")]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { [m.credential]: null, COFFER_HOME: m.cli.home, APP_TOKEN: "app-1" });
      const all = m.cli.run([
        "run",
        "--owner",
        "project/acme",
        "--",
        process.execPath,
        "-e",
        "process.stdout.write(Object.keys(process.env).join(','))",
      ]);
      for (const name of ["COFFER_TOKEN", "COFFER_KEK_BASE64"])
        assert.ok(!all.stdout.split(",").includes(name), `${name} reached the child`);
      const kept = m.cli.run(["run", "--owner", "project/acme", "--keep-env", m.credential, "--", ...printEnv(m.credential)]);
      assert.equal(kept.status, 0, kept.stderr);
      assert.equal((JSON.parse(kept.stdout) as Record<string, string>)[m.credential], m.cli.env[m.credential]);
    });

    it("refuses a value with a NUL byte by its key name (VALUE_NOT_ENV_SAFE), printing no value even at debug level", () => {
      const r = m.cli.run(["run", "--owner", "project/nul", "--", "sh", "-c", `touch '${marker}'`], { env: { COFFER_LOG_LEVEL: "debug" } });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /error\[VALUE_NOT_ENV_SAFE\]: cannot pass HAS_NUL \(contains a NUL byte\) to the program/);
      assert.ok(!r.stdout.includes(CANARY) && !r.stderr.includes(CANARY) && !r.stderr.includes("before"), "the value leaked");
      assert.equal(existsSync(marker), false);
    });

    it("refuses a value that is not UTF-8 the same way in both modes", () => {
      const r = m.cli.run(["run", "--owner", "project/bin", "--", "sh", "-c", `touch '${marker}'`]);
      assert.equal(r.status, 2);
      assert.equal(
        r.stderr,
        "error[VALUE_NOT_ENV_SAFE]: cannot pass BLOB (not UTF-8 text) to the program as an environment variable; nothing was started\n",
      );
      assert.equal(existsSync(marker), false);
    });

    it("injects key names with . and - verbatim", () => {
      const r = m.cli.run(["run", "--owner", "project/names", "--", ...printEnv("app.port", "my-key")]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { "app.port": "8080", "my-key": "dash" });
      assert.equal(r.stderr, "");
    });

    it("fails on a command that does not exist before revealing anything", () => {
      const before = reveals("project/run404");
      const r = m.cli.run(["run", "--owner", "project/run404", "--", "no-such-command-coffer"]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /^error\[USAGE\]: command not found: no-such-command-coffer/);
      const rel = m.cli.run(["run", "--owner", "project/run404", "--", "./no/such/path"]);
      assert.equal(rel.status, 2);
      assert.equal(reveals("project/run404"), before, "a run that never started was audited as a reveal");
    });

    it("refuses an owner without secrets or a prefix matching none, unless --allow-empty", () => {
      const typo = m.cli.run(["run", "--owner", "project/acmee", "--", "sh", "-c", `touch '${marker}'`]);
      assert.equal(typo.status, 3);
      assert.match(typo.stderr, /^error\[NOT_FOUND\]: project\/acmee has no secrets; nothing was started \(.*--allow-empty\)/);
      const prefix = m.cli.run(["run", "--owner", "project/acme", "--prefix", "NOPE_", "--", "sh", "-c", `touch '${marker}'`]);
      assert.equal(prefix.status, 3);
      assert.match(prefix.stderr, /^error\[NOT_FOUND\]: no secret of project\/acme starts with "NOPE_"/);
      assert.equal(existsSync(marker), false);
      const allowed = m.cli.run(["run", "--owner", "project/acmee", "--allow-empty", "--", ...printEnv("APP_TOKEN")]);
      assert.equal(allowed.status, 0, allowed.stderr);
      assert.deepEqual(JSON.parse(allowed.stdout), { APP_TOKEN: null });
    });

    it("never printed a planted value anywhere", () => {
      assert.ok(!m.cli.allOutput().includes(CANARY));
    });
  });
}

describe("coffer run --file applies the same name rules", () => {
  let cli: CliHarness;
  let dir: string;
  before(() => {
    cli = new CliHarness({ COFFER_KEK_PROVIDER: "file" });
    dir = join(cli.home, "files");
    mkdirSync(dir);
    const key = join(dir, "key.txt");
    const g = spawnSync("age-keygen", ["-o", key], { encoding: "utf8" });
    assert.equal(g.status, 0, g.stderr);
    const recipient = /age1[0-9a-z]+/.exec(g.stderr)?.[0] ?? "";
    const plain = join(dir, "app.yaml");
    writeFileSync(
      plain,
      [
        `GOOD: good`,
        `"bad name": x`,
        `"x;touch /tmp/y": y`,
        `"1ST": z`,
        `PATH: /tmp`,
        `LD_PRELOAD: ${CANARY}`,
        `app.port: "8080"`,
        "",
      ].join("\n"),
    );
    const enc = cli.run(["file", "encrypt", plain, "--age", recipient]);
    assert.equal(enc.status, 0, enc.stderr);
    writeFileSync(join(dir, "app.enc.yaml"), enc.stdout);
  });
  after(() => {
    cli.cleanup();
  });

  it("injects valid names, skips and names the others (invalid and loader names)", () => {
    const args = ["run", "--file", join(dir, "app.enc.yaml"), "--identity", join(dir, "key.txt"), "--"];
    const r = cli.run([...args, ...printEnv("GOOD", "app.port", "PATH", "LD_PRELOAD", "bad name")]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { GOOD: "good", "app.port": "8080", PATH: cli.env["PATH"], LD_PRELOAD: null, "bad name": null });
    for (const n of ['"bad name"', '"x;touch /tmp/y"', '"1ST"'])
      assert.ok(r.stderr.includes(`not injected: ${n} (not a valid environment variable name)`), n);
    assert.match(r.stderr, /not injected: PATH \(/);
    assert.match(r.stderr, /not injected: LD_PRELOAD \(/);
    assert.ok(!r.stderr.includes(CANARY));
    const strict = cli.run([...args.slice(0, -1), "--strict", "--", ...printEnv("GOOD")]);
    assert.equal(strict.status, 2);
    assert.match(strict.stderr, /^error\[ENV_NAME_REFUSED\]/);
    assert.equal(strict.stdout, "");
  });
});
