import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";
import { rotateAndKillMidway, seedOwners } from "../fixtures/rotation.ts";

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
    await seedOwners({ COFFER_HOME: cli.home, COFFER_KEYRING_FILE: keyring }, OWNERS);
  });
  after(() => {
    cli.cleanup();
  });

  it("finishes a rotation killed with SIGKILL midway, and every secret stays readable", async () => {
    writeKeyring("k2", { k1, k2 });
    const killed = await rotateAndKillMidway(cli.env, "k2");
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
    // k2 was made active by hand: --resume moves the data to it (a bare `keys rotate` would mint a new key).
    const moved = cli.run(["keys", "rotate", "--resume"]);
    assert.equal(moved.status, 0, moved.stderr);
    const retire = cli.run(["keys", "retire", "k1"]);
    assert.equal(retire.status, 0, retire.stderr);
    writeKeyring("k2", { k2 }); // the operator deletes the retired key
    const live = cli.run(["secrets", "get", "project/p3", "K", "--reveal", "--yes", "--reason", "r"]);
    assert.equal(live.stdout, "value-3", live.stderr);
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
