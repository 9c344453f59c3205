import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CliHarness, ROOT } from "../fixtures/cli.ts";

type Status = {
  active: string;
  keys: { kid: string; provider: string; scopeKeys: number; internalKeys: number; retiredAt: string | null; configured: boolean }[];
  rotationJobs: { fromKid: string | null; toKid: string; state: string }[];
};
type Manifest = { active: string; pending: string | null; keys: Record<string, string> };
const DATED = /^k\d{4}-\d{2}-\d{2}(-\d+)?$/;
const CRASH = join(ROOT, "test", "fixtures", "crash-at.ts");

function seed(cli: CliHarness, n: number): void {
  for (let i = 0; i < n; i++) {
    const r = cli.run(["secrets", "set", `project/p${String(i)}`, "K", "--stdin"], { input: `value-${String(i)}` });
    assert.equal(r.status, 0, r.stderr);
  }
}

function revealAll(cli: CliHarness, n: number): void {
  for (let i = 0; i < n; i++) {
    const r = cli.run(["secrets", "get", `project/p${String(i)}`, "K", "--reveal", "--yes", "--reason", "check"]);
    assert.equal(r.stdout, `value-${String(i)}`, r.stderr);
  }
}

function status(cli: CliHarness): Status {
  const r = cli.run(["keys", "status", "--json"]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Status;
}

const mode = (p: string): number => statSync(p).mode & 0o777;

describe("coffer keys rotate mints a new master key", () => {
  const harnesses: CliHarness[] = [];
  const fresh = (env: Record<string, string> = {}): CliHarness => {
    const h = new CliHarness(env);
    harnesses.push(h);
    return h;
  };
  after(() => {
    for (const h of harnesses) h.cleanup();
  });

  it("on a fresh default data directory: changes the active kid, every secret still reveals, the old kid can be retired", () => {
    const cli = fresh();
    seed(cli, 3);
    assert.equal(status(cli).active, "primary");
    const r = cli.run(["keys", "rotate", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { fromKid: string; toKid: string; minted: boolean; rewrappedScopeKeys: number };
    assert.equal(report.fromKid, "primary");
    assert.match(report.toKid, DATED);
    assert.equal(report.minted, true);
    assert.equal(report.rewrappedScopeKeys, 3);
    const s = status(cli);
    assert.equal(s.active, report.toKid);
    assert.equal(s.keys.find((k) => k.kid === "primary")?.scopeKeys, 0);
    assert.equal(s.keys.find((k) => k.kid === report.toKid)?.scopeKeys, 3);
    revealAll(cli, 3);
    const secrets = join(cli.home, "secrets");
    assert.equal(mode(secrets), 0o700);
    for (const f of ["master-key", `master-key.${report.toKid}`, "keys.json"]) assert.equal(mode(join(secrets, f)), 0o600, f);
    const m = JSON.parse(readFileSync(join(secrets, "keys.json"), "utf8")) as Manifest;
    assert.deepEqual(m, {
      active: report.toKid,
      pending: null,
      keys: { primary: "master-key", [report.toKid]: `master-key.${report.toKid}` },
    });
    const retire = cli.run(["keys", "retire", "primary"]);
    assert.equal(retire.status, 0, retire.stderr);
    revealAll(cli, 3);
    assert.equal(cli.run(["audit", "verify"]).status, 0);
    // A second rotation the same day gets a suffixed kid; --kid names it; a taken kid is refused.
    const again = cli.run(["keys", "rotate", "--json"]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { toKid: string }).toKid, `${report.toKid}-2`);
    const taken = cli.run(["keys", "rotate", "--kid", "primary"]);
    assert.equal(taken.status, 5);
    assert.match(taken.stderr, /^error\[CONFLICT\]: kid: 'primary' is already used/);
    const named = cli.run(["keys", "rotate", "--kid", "ops-2027", "--backup-retention", "30d"]);
    assert.equal(named.status, 0, named.stderr);
    assert.match(named.stdout, /to ops-2027 \(new key\)/);
    assert.match(named.stdout, new RegExp(`${report.toKid}-2 wraps nothing now; it can be retired from \\d{4}-`));
    revealAll(cli, 3);
    const audit = cli.run(["audit", "list", "--action", "admin.encryption.rotate", "--json"]);
    assert.equal(audit.status, 0, audit.stderr);
    assert.match(audit.stdout, /"newKid":\s*"ops-2027"/);
    assert.match(audit.stdout, /"minted":\s*true/);
    assert.match(audit.stdout, /"auto":\s*false/);
  });

  it("keyring file: writes the new entry atomically, keeping every other entry and the file's mode", () => {
    const cli = fresh();
    const keyring = join(cli.home, "keyring.json");
    const k1 = randomBytes(32).toString("base64");
    const aws = { provider: "aws-kms", keyId: "arn:aws:kms:eu-west-1:111122223333:key/spare", region: "eu-west-1" };
    writeFileSync(keyring, JSON.stringify({ active: "k1", keys: { k1, spare: aws } }), { mode: 0o400 });
    cli.env["COFFER_KEYRING_FILE"] = keyring;
    seed(cli, 2);
    const r = cli.run(["keys", "rotate", "--kid", "k2"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(mode(keyring), 0o400);
    const doc = JSON.parse(readFileSync(keyring, "utf8")) as { active: string; pending?: string; keys: Record<string, unknown> };
    assert.equal(doc.active, "k2");
    assert.equal(doc.pending, undefined);
    assert.equal(doc.keys["k1"], k1);
    assert.deepEqual(doc.keys["spare"], aws);
    assert.equal(Buffer.from(doc.keys["k2"] as string, "base64").length, 32);
    assert.deepEqual(
      readdirSync(cli.home).filter((f) => f.includes(".tmp")),
      [],
    );
    revealAll(cli, 2);
    // Back to an existing kid by name.
    const back = cli.run(["keys", "rotate", "--to-kid", "k1"]);
    assert.equal(back.status, 0, back.stderr);
    assert.match(back.stdout, /from k2 to k1: 2 scope keys/);
    assert.equal((JSON.parse(readFileSync(keyring, "utf8")) as { active: string }).active, "k1");
    revealAll(cli, 2);
    const unknown = cli.run(["keys", "rotate", "--to-kid", "nope"]);
    assert.equal(unknown.status, 4);
    assert.match(
      unknown.stderr,
      /^error\[KEY_NOT_FOUND\]: toKid: kid 'nope' is not in the configured keyring; Coffer does not create cloud keys/,
    );
  });

  it("env provider: refused with KEY_CANNOT_MINT saying how, and nothing changes", () => {
    const cli = fresh({ COFFER_KEK_BASE64: randomBytes(32).toString("base64") });
    seed(cli, 1);
    const r = cli.run(["keys", "rotate"]);
    assert.equal(r.status, 4);
    assert.match(r.stderr, /^error\[KEY_CANNOT_MINT\]: the env key provider cannot store a new key .*keyring file \(COFFER_KEYRING_FILE/);
    const s = status(cli);
    assert.equal(s.active, "primary");
    assert.deepEqual(
      s.keys.map((k) => k.kid),
      ["primary"],
    );
    assert.equal(s.rotationJobs.length, 0);
  });

  for (const point of ["key-written", "key-recorded", "key-activated", "mid-rewrap"] as const) {
    it(`SIGKILL at ${point}: never an active kid without its key, never an unrecorded key; the next rotate finishes with one new key`, () => {
      const cli = fresh();
      seed(cli, 2);
      const killed = spawnSync(process.execPath, [CRASH, point, "keys", "rotate", "--batch", "1"], {
        env: cli.env,
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(killed.signal, "SIGKILL", `killed at ${point}: ${killed.stderr}`);
      const secrets = join(cli.home, "secrets");
      const files = readdirSync(secrets);
      const manifestPath = join(secrets, "keys.json");
      if (files.includes("keys.json")) {
        const m = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
        assert.ok(files.includes(m.keys[m.active] ?? "?"), "the active kid's key file is stored");
        for (const f of Object.values(m.keys)) assert.ok(files.includes(f), `${f} recorded and stored`);
      }
      assert.deepEqual(
        files.filter((f) => f.endsWith(".tmp")),
        [],
        "no temporary file left behind",
      );
      // The next start records any key file nothing recorded yet (adopted as pending).
      const after = status(cli);
      const m = JSON.parse(readFileSync(manifestPath, "utf8")) as Manifest;
      const keyFiles = readdirSync(secrets).filter((f) => f.startsWith("master-key"));
      assert.deepEqual(new Set(Object.values(m.keys)), new Set(keyFiles), "every stored key is recorded");
      assert.equal(Object.keys(m.keys).length, 2);
      assert.ok(point === "key-activated" || point === "mid-rewrap" ? after.active !== "primary" : after.active === "primary");
      revealAll(cli, 2);
      const r = cli.run(["keys", "rotate", "--json"]);
      assert.equal(r.status, 0, r.stderr);
      const final = status(cli);
      assert.match(final.active, DATED);
      assert.deepEqual(
        final.keys.map((k) => k.kid).sort(),
        ["primary", final.active].sort(),
        "the interrupted rotation's key was used, no second one minted",
      );
      assert.equal(final.keys.find((k) => k.kid === "primary")?.scopeKeys, 0);
      assert.equal(final.keys.find((k) => k.kid === "primary")?.internalKeys, 0);
      revealAll(cli, 2);
      assert.equal(cli.run(["keys", "retire", "primary"]).status, 0);
      assert.equal(cli.run(["audit", "verify"]).status, 0);
    });
  }
});
