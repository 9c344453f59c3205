import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/core/config/index.ts";
import { createCore, LOCAL_CONTEXT } from "../../src/core/service/index.ts";
import { Secret } from "../../src/core/secret/index.ts";
import { BIN, CliHarness } from "../fixtures/cli.ts";

const OWNERS = 40;

describe("KEK rotation through the CLI", () => {
  let cli: CliHarness;
  let keyring = "";
  const [k1, k2] = [randomBytes(32).toString("base64"), randomBytes(32).toString("base64")];
  const writeKeyring = (active: string, keys: Record<string, string>) => {
    writeFileSync(keyring, JSON.stringify({ active, keys }), { mode: 0o600 });
  };
  before(async () => {
    cli = new CliHarness();
    keyring = join(cli.home, "keyring.json");
    cli.env["COFFER_KEYRING_FILE"] = keyring;
    writeKeyring("k1", { k1 });
    const core = await createCore(loadConfig({ env: { COFFER_HOME: cli.home, COFFER_KEYRING_FILE: keyring } }));
    try {
      for (let i = 0; i < OWNERS; i++) {
        await core.secrets.set({ kind: "local", user: "seed" }, LOCAL_CONTEXT, {
          owner: `project/p${String(i)}`,
          key: "K",
          value: Secret.fromString(`value-${String(i)}`),
        });
      }
    } finally {
      await core.close();
    }
  });
  after(() => {
    cli.cleanup();
  });

  it("finishes a rotation killed with SIGKILL midway, and every secret stays readable", async () => {
    writeKeyring("k2", { k1, k2 });
    const child = spawn(process.execPath, [BIN, "keys", "rotate", "--batch", "1"], { env: cli.env, stdio: ["ignore", "pipe", "pipe"] });
    const killed = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve(false);
      }, 30_000);
      child.stderr.on("data", (d: Buffer) => {
        if (/rotating to k2: \d+\//.test(d.toString()) && child.exitCode === null) {
          child.kill("SIGKILL");
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    await new Promise((r) => child.once("exit", r));
    assert.equal(killed, true, "the rotation was killed while running");
    const mid = JSON.parse(cli.run(["keys", "status", "--json"]).stdout) as { keys: { kid: string; scopeKeys: number }[] };
    assert.ok((mid.keys.find((k) => k.kid === "k1")?.scopeKeys ?? 0) > 0, "work was left for the resume");
    const r = cli.run(["keys", "rotate", "--resume"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^resumed and finished rotation rj_[0-9a-f]+ to k2/);
    for (const i of [0, 17, OWNERS - 1]) {
      const v = cli.run(["secrets", "get", `project/p${String(i)}`, "K", "--reveal", "--yes", "--reason", "check"]);
      assert.equal(v.stdout, `value-${String(i)}`);
    }
    assert.equal(cli.run(["audit", "verify"]).status, 0);
  });

  it("leaves a database copied before an erase unable to yield the erased owner once the old kid is retired", () => {
    // A fresh owner under k1 again, copied (the "backup"), then erased.
    writeKeyring("k1", { k1, k2 });
    assert.equal(cli.run(["secrets", "set", "project/doomed", "K", "--stdin"], { input: "erase-me" }).status, 0);
    const backup = join(cli.home, "backup.db");
    copyFileSync(join(cli.home, "coffer.db"), backup);
    assert.equal(cli.run(["erase", "project/doomed", "--yes"]).status, 0);
    writeKeyring("k2", { k1, k2 });
    assert.equal(cli.run(["keys", "rotate"]).status, 0);
    const retire = cli.run(["keys", "retire", "k1"]);
    assert.equal(retire.status, 0, retire.stderr);
    writeKeyring("k2", { k2 }); // the operator deletes the retired key
    const live = cli.run(["secrets", "get", "project/p3", "K", "--reveal", "--yes", "--reason", "r"]);
    assert.equal(live.stdout, "value-3");
    const fromBackup = cli.run(["--db", `sqlite:${backup}`, "secrets", "get", "project/doomed", "K", "--reveal", "--yes", "--reason", "r"]);
    assert.notEqual(fromBackup.status, 0);
    assert.ok(!fromBackup.stdout.includes("erase-me"));
    assert.match(fromBackup.stderr, /^error\[KEY_NOT_FOUND\]: .*'k1'/);
  });

  it("refuses to retire a kid that still wraps keys, naming the counts", () => {
    writeKeyring("k2", { k2 });
    const r = cli.run(["keys", "retire", "k2"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^error\[INVALID_INPUT\]: kid: 'k2' is the active kid/);
  });
});
