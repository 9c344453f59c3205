import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { BIN, CliHarness } from "../fixtures/cli.ts";

const hasScript = spawnSync("script", ["--version"]).status === 0;

/** Runs `coffer` on a real pseudo-terminal (util-linux `script`), answering each prompt when it appears. */
async function onTty(
  cli: CliHarness,
  args: readonly string[],
  answers: readonly [RegExp, string][],
): Promise<{ code: number | null; screen: string }> {
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const child = spawn("script", ["-qec", cmd, "/dev/null"], { env: cli.env, stdio: ["pipe", "pipe", "pipe"] });
  let screen = "";
  let next = 0;
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => {
    screen += d;
    const a = answers[next];
    if (a !== undefined && a[0].test(screen)) {
      next++;
      child.stdin.write(a[1]);
    }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  clearTimeout(timer);
  return { code, screen };
}

describe("coffer on a terminal", { skip: hasScript ? false : "util-linux script is not installed" }, () => {
  let cli: CliHarness;
  before(() => {
    cli = new CliHarness();
  });
  after(() => {
    cli.cleanup();
  });

  it("prompts for a value without echoing it", async () => {
    const r = await onTty(cli, ["secrets", "set", "project/tty", "K"], [[/Value \(hidden\): /, "typed-secret\r"]]);
    assert.equal(r.code, 0, r.screen);
    assert.ok(!r.screen.includes("typed-secret"));
    assert.match(r.screen, /project\/tty K v1 \*{8}/);
  });

  it("reveals after a confirmation and a reason typed at the prompt", async () => {
    const r = await onTty(
      cli,
      ["secrets", "get", "project/tty", "K", "--reveal"],
      [
        [/in plaintext\? \[y\/N\] /, "y\r"],
        [/Reason for revealing/, "on-call check\r"],
      ],
    );
    assert.equal(r.code, 0, r.screen);
    assert.match(r.screen, /typed-secret/);
    const audit = cli.run(["audit", "list", "--action", "secret.reveal", "--json"]);
    assert.ok((JSON.parse(audit.stdout) as { reason: string }[]).some((e) => e.reason === "on-call check"));
  });

  it("reveals nothing when the confirmation is declined", async () => {
    const r = await onTty(cli, ["secrets", "get", "project/tty", "K", "--reveal"], [[/in plaintext\? \[y\/N\] /, "n\r"]]);
    assert.equal(r.code, 2);
    assert.ok(!r.screen.includes("typed-secret"));
    assert.match(r.screen, /confirmation declined/);
  });
});
