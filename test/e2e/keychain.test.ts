/**
 * The OS keychain provider against a real Secret Service: gnome-keyring-daemon (secrets
 * component, unlocked with a throwaway password) on a private D-Bus session bus started by
 * this test with dbus-run-session, in a throwaway HOME. The CLI runs with only that bus's
 * address; `secret-tool` (libsecret) inspects what it stored. Every process started here is
 * killed by its pid at the end.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliHarness, ROOT } from "../fixtures/cli.ts";

const TOOLS = ["dbus-run-session", "gnome-keyring-daemon", "secret-tool", "dbus-send"];
const missing = TOOLS.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
const SKIP =
  process.platform !== "linux" ? "Linux only" : missing.length > 0 ? `missing ${missing.join(", ")} (.ci/run installs them)` : false;
const CANARY = "kc-canary-7f3a9d2e41c8b6";
const CRASH = join(ROOT, "test", "fixtures", "crash-at.ts");
const WARNING = /warning: no OS keychain is reachable/g;

/** Inside the session: start the daemon, wait until it owns the Secret Service name, report, wait for stdin to close. */
const SESSION_SCRIPT = `
printf '%s' coffer-keychain-test | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
KPID=$!
i=0
while [ $i -lt 200 ]; do
  if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true; then break; fi
  i=$((i+1)); sleep 0.05
done
echo "READY $KPID $$ $DBUS_SESSION_BUS_ADDRESS"
cat >/dev/null
kill $KPID 2>/dev/null
`;

type Session = {
  readonly child: ChildProcess;
  readonly pids: readonly number[];
  readonly bus: string;
  readonly env: Record<string, string>;
};

async function startSession(home: string): Promise<Session> {
  const env = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: home, XDG_DATA_HOME: join(home, "data"), XDG_RUNTIME_DIR: home };
  const child = spawn("dbus-run-session", ["--", "sh", "-c", SESSION_SCRIPT], { env, stdio: ["pipe", "pipe", "ignore"] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      reject(new Error("the D-Bus session did not start within 20 s"));
    }, 20_000);
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      const m = /^READY .*$/m.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    child.on("exit", () => {
      clearTimeout(timer);
      reject(new Error("dbus-run-session exited early"));
    });
  });
  const [, keyringPid = "", shellPid = "", bus = ""] = line.split(" ");
  return { child, pids: [Number(keyringPid), Number(shellPid)], bus, env: { ...env, DBUS_SESSION_BUS_ADDRESS: bus } };
}

/** Closes the session's stdin (the script then stops the daemon and exits), then kills whatever is left, by pid. */
async function stopSession(s: Session): Promise<void> {
  const exited = new Promise<void>((resolve) => {
    if (s.child.exitCode !== null) resolve();
    else
      s.child.once("exit", () => {
        resolve();
      });
  });
  s.child.stdin?.end();
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  for (const pid of [...s.pids, s.child.pid ?? 0]) {
    if (pid <= 0) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  s.child.stdout?.destroy();
}

describe("OS keychain provider (gnome-keyring on a private D-Bus session)", { skip: SKIP }, () => {
  let session: Session;
  let dir = "";
  const clis: CliHarness[] = [];
  const harness = (env: Record<string, string>): CliHarness => {
    const c = new CliHarness(env);
    clis.push(c);
    return c;
  };
  const secretTool = (args: readonly string[]) => spawnSync("secret-tool", args, { env: session.env, encoding: "utf8", timeout: 10_000 });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "coffer-keychain-"));
    session = await startSession(dir);
  });
  after(async () => {
    await stopSession(session);
    for (const c of clis) c.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps the master key in the keychain, not on disk, and a canary round-trips across two CLI processes", () => {
    const cli = harness({ DBUS_SESSION_BUS_ADDRESS: session.bus });
    const set = cli.run(["secrets", "set", "project/kc", "TOKEN", "--stdin"], { input: CANARY });
    assert.equal(set.status, 0, set.stderr);
    assert.doesNotMatch(set.stderr, WARNING);
    assert.equal(existsSync(join(cli.home, "secrets", "master-key")), false, "no key file on disk");
    const stored = secretTool(["lookup", "service", "coffer", "username", `primary@${cli.home}`]);
    assert.equal(stored.status, 0, "the entry is in the Secret Service");
    assert.match(stored.stdout.trim(), /^[A-Za-z0-9+/]{43}=$/);
    // The key in the keychain is the key in use: same keyed fingerprint as keys status reports.
    const fingerprint = createHmac("sha256", Buffer.from(stored.stdout.trim(), "base64"))
      .update("coffer/kek-fingerprint/v1")
      .digest("hex")
      .slice(0, 16);
    const status = cli.run(["keys", "status", "--json"]);
    const kid = (JSON.parse(status.stdout) as { keys: { provider: string; fingerprint: string }[] }).keys[0];
    assert.deepEqual([kid?.provider, kid?.fingerprint], ["keychain", fingerprint]);
    const got = cli.run(["secrets", "get", "project/kc", "TOKEN", "--reveal", "--yes", "--reason", "keychain test"]);
    assert.equal(got.status, 0, got.stderr);
    assert.ok(got.stdout.includes(CANARY));
    assert.ok(!cli.allOutput().includes(stored.stdout.trim()), "the key never appears in any output");
  });

  it("refuses to fall back to a new key file when this database's key is in the keychain and the bus is gone", () => {
    const cli = harness({ DBUS_SESSION_BUS_ADDRESS: session.bus });
    assert.equal(cli.run(["secrets", "set", "project/kc", "A", "--stdin"], { input: "a" }).status, 0);
    const r = cli.run(["secrets", "list", "project/kc"], { env: { DBUS_SESSION_BUS_ADDRESS: "" } });
    assert.equal(r.status, 4);
    assert.match(r.stderr, /^error\[KEY_UNAVAILABLE\]: the OS keychain is not reachable .*this database's key for kid 'primary' is in it/m);
    assert.equal(existsSync(join(cli.home, "secrets", "master-key")), false);
  });

  it("never recreates a deleted keychain entry once the database holds data wrapped by it", () => {
    const cli = harness({ DBUS_SESSION_BUS_ADDRESS: session.bus });
    assert.equal(cli.run(["secrets", "set", "project/kc", "A", "--stdin"], { input: "a" }).status, 0);
    assert.equal(secretTool(["clear", "service", "coffer", "username", `primary@${cli.home}`]).status, 0);
    const r = cli.run(["secrets", "list", "project/kc"]);
    assert.equal(r.status, 4);
    assert.match(
      r.stderr,
      /^error\[KEY_NOT_FOUND\]: keychain entry .* is missing, but this database holds data wrapped by kid 'primary'; restore/m,
    );
    assert.notEqual(secretTool(["lookup", "service", "coffer", "username", `primary@${cli.home}`]).status, 0, "not recreated");
  });

  it("gives two data directories two keychain entries", () => {
    const [a, b] = [harness({ DBUS_SESSION_BUS_ADDRESS: session.bus }), harness({ DBUS_SESSION_BUS_ADDRESS: session.bus })];
    for (const c of [a, b]) assert.equal(c.run(["secrets", "set", "project/kc", "A", "--stdin"], { input: "a" }).status, 0);
    const keyOf = (c: CliHarness) => secretTool(["lookup", "service", "coffer", "username", `primary@${c.home}`]).stdout;
    assert.notEqual(keyOf(a), keyOf(b));
  });

  it("keys rotate mints a new keychain entry, makes it active, and the old kid can be retired", () => {
    const cli = harness({ DBUS_SESSION_BUS_ADDRESS: session.bus });
    for (const p of ["a", "b"]) assert.equal(cli.run(["secrets", "set", `project/${p}`, "K", "--stdin"], { input: `v-${p}` }).status, 0);
    const r = cli.run(["keys", "rotate", "--kid", "kc2", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { fromKid: string; toKid: string; minted: boolean; rewrappedScopeKeys: number };
    assert.deepEqual([report.fromKid, report.toKid, report.minted, report.rewrappedScopeKeys], ["primary", "kc2", true, 2]);
    const entry = secretTool(["lookup", "service", "coffer", "username", `kc2@${cli.home}`]);
    assert.equal(entry.status, 0, "the new key is a new keychain entry");
    assert.match(entry.stdout.trim(), /^[A-Za-z0-9+/]{43}=$/);
    assert.equal(existsSync(join(cli.home, "secrets", "master-key")), false, "still no key file on disk");
    const manifest = JSON.parse(readFileSync(join(cli.home, "secrets", "keychain.json"), "utf8")) as unknown;
    assert.deepEqual(manifest, {
      active: "kc2",
      pending: null,
      minting: null,
      keys: { primary: `primary@${cli.home}`, kc2: `kc2@${cli.home}` },
    });
    assert.equal(statSync(join(cli.home, "secrets", "keychain.json")).mode & 0o777, 0o600);
    const st = JSON.parse(cli.run(["keys", "status", "--json"]).stdout) as {
      active: string;
      keys: { kid: string; provider: string; scopeKeys: number }[];
    };
    assert.equal(st.active, "kc2");
    assert.deepEqual(st.keys.map((k) => [k.kid, k.provider, k.scopeKeys]).sort(), [
      ["kc2", "keychain", 2],
      ["primary", "keychain", 0],
    ]);
    assert.equal(cli.run(["keys", "retire", "primary"]).status, 0);
    for (const p of ["a", "b"]) {
      const got = cli.run(["secrets", "get", `project/${p}`, "K", "--reveal", "--yes", "--reason", "after rotation"]);
      assert.equal(got.stdout, `v-${p}`, got.stderr);
    }
    assert.ok(!cli.allOutput().includes(entry.stdout.trim()), "the key never appears in any output");
  });

  for (const point of ["key-written", "key-recorded"] as const) {
    it(`SIGKILL at ${point} of a keychain mint: the stored entry is recorded, the next rotate uses it`, () => {
      const cli = harness({ DBUS_SESSION_BUS_ADDRESS: session.bus });
      assert.equal(cli.run(["secrets", "set", "project/a", "K", "--stdin"], { input: "v-a" }).status, 0);
      const killed = spawnSync(process.execPath, [CRASH, point, "keys", "rotate", "--kid", "kc2"], {
        env: cli.env,
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(killed.signal, "SIGKILL", killed.stderr);
      assert.equal(secretTool(["lookup", "service", "coffer", "username", `kc2@${cli.home}`]).status, 0, "the entry was written");
      const st = JSON.parse(cli.run(["keys", "status", "--json"]).stdout) as { active: string };
      assert.equal(st.active, "primary", "the old key stays active");
      const m = JSON.parse(readFileSync(join(cli.home, "secrets", "keychain.json"), "utf8")) as {
        pending: string;
        minting: null;
        keys: object;
      };
      assert.deepEqual(
        [m.pending, m.minting, Object.keys(m.keys).sort()],
        ["kc2", null, ["kc2", "primary"]],
        "the entry is recorded as pending",
      );
      const r = cli.run(["keys", "rotate", "--json"]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { toKid: string }).toKid, "kc2", "the pending key is used, no second one minted");
      const got = cli.run(["secrets", "get", "project/a", "K", "--reveal", "--yes", "--reason", "after crash"]);
      assert.equal(got.stdout, "v-a", got.stderr);
    });
  }

  it("keeps an existing data directory on its key file even when a keychain is reachable", () => {
    const cli = harness({});
    assert.equal(cli.run(["secrets", "set", "project/kc", "A", "--stdin"], { input: "a" }).status, 0, "no bus: the key file");
    const r = cli.run(["keys", "status", "--json"], { env: { DBUS_SESSION_BUS_ADDRESS: session.bus } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { keys: { provider: string }[] }).keys[0]?.provider, "file");
    assert.doesNotMatch(r.stderr, WARNING);
    assert.notEqual(
      secretTool(["lookup", "service", "coffer", "username", `primary@${cli.home}`]).status,
      0,
      "nothing written to the keychain",
    );
  });
});

describe("OS keychain provider without a reachable keychain", { skip: process.platform !== "linux" ? "Linux only" : false }, () => {
  const clis: CliHarness[] = [];
  after(() => {
    for (const c of clis) c.cleanup();
  });

  for (const [what, bus] of [
    ["no session bus", null],
    ["a session bus address nothing listens on", "unix:path=/nonexistent/coffer-test-bus"],
  ] as const) {
    it(`falls back to the key file quickly with ${what}, and says so once`, () => {
      const cli = new CliHarness(bus === null ? {} : { DBUS_SESSION_BUS_ADDRESS: bus });
      clis.push(cli);
      const started = Date.now();
      const first = cli.run(["secrets", "set", "project/fb", "A", "--stdin"], { input: "a" });
      assert.equal(first.status, 0, first.stderr);
      assert.ok(Date.now() - started < 5000, "no D-Bus timeout");
      assert.equal(first.stderr.match(WARNING)?.length, 1);
      assert.ok(existsSync(join(cli.home, "secrets", "master-key")));
      const second = cli.run(["secrets", "get", "project/fb", "A", "--reveal", "--yes", "--reason", "r"]);
      assert.equal(second.status, 0, second.stderr);
      assert.doesNotMatch(second.stderr, WARNING, "said once: later runs use the file silently");
    });
  }

  it("fails instead of falling back when the keychain was asked for explicitly", () => {
    const cli = new CliHarness({ COFFER_KEK_PROVIDER: "keychain" });
    clis.push(cli);
    const r = cli.run(["secrets", "set", "project/fb", "A", "--stdin"], { input: "a" });
    assert.equal(r.status, 4);
    assert.match(r.stderr, /error\[KEY_UNAVAILABLE\]: the OS keychain is not reachable/);
    assert.equal(existsSync(join(cli.home, "secrets", "master-key")), false);
  });
});
