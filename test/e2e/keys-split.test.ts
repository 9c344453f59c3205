import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliHarness, type CliResult } from "../fixtures/cli.ts";

const SHARE_LINE = /^coffer-share-v1:primary:[0-9a-f]{16}:[0-9a-f]{12}:3-of-5:[1-5]:[A-Za-z0-9+/]{44}:[0-9a-f]{8}$/;
const modeOf = (path: string): number => statSync(path).mode & 0o777;

describe("coffer keys split / combine (real child processes)", () => {
  let cli: CliHarness;
  let masterKey = "";
  let shares: string[] = [];
  const stderrs: string[] = [];
  /** Runs the CLI and keeps its stderr for the canary check. */
  const run = (args: readonly string[], input?: string): CliResult => {
    const r = cli.run(args, input === undefined ? {} : { input });
    stderrs.push(r.stderr);
    return r;
  };

  before(() => {
    cli = new CliHarness();
    assert.equal(run(["secrets", "set", "project/acme", "DB_PASSWORD", "--stdin"], "pw\n").status, 0);
    masterKey = readFileSync(join(cli.home, "secrets", "master-key"), "utf8").trim();
  });
  after(() => {
    cli.cleanup();
  });

  it("prints N share lines on stdout and warns on stderr that they are secret", () => {
    const r = run(["keys", "split", "--shares", "5", "--threshold", "3"]);
    assert.equal(r.status, 0, r.stderr);
    shares = r.stdout.trimEnd().split("\n");
    assert.equal(shares.length, 5);
    for (const s of shares) assert.match(s, SHARE_LINE);
    assert.match(r.stderr, /^warning: the shares below are secret; any 3 of these 5 shares rebuild the master key 'primary'/);
    assert.match(r.stderr, /different custodian/);
  });

  it("combines any 3 shares from stdin, verifies them against the configured key and prints no key", () => {
    const r = run(["keys", "combine", "--stdin"], `${shares[4]!}\n\n${shares[0]!}\r\n${shares[2]!}\n`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /^verified: kid 'primary', fingerprint [0-9a-f]{16}, from 3 share\(s\) of a 3-of-5 split; matches the configured key/,
    );
    assert.ok(!r.stdout.includes(masterKey));
  });

  it("prints the recovered key on stdout only with --stdout-key", () => {
    const r = run(["keys", "combine", "--stdin", "--stdout-key"], shares.slice(1, 4).join("\n"));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${masterKey}\n`);
    assert.match(r.stderr, /^verified: /);
  });

  it("refuses fewer than K shares, saying how many were given and how many are needed", () => {
    const r = run(["keys", "combine", "--stdin", "--stdout-key"], shares.slice(0, 2).join("\n"));
    assert.equal(r.status, 2);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "error[INVALID_INPUT]: shares: got 2 share(s), but this 3-of-5 split needs at least 3\n");
  });

  it("names the mistyped share, and does not count a duplicate", () => {
    const fields = shares[1]!.split(":");
    fields[6] = `${fields[6]![0] === "A" ? "B" : "A"}${fields[6]!.slice(1)}`; // one wrong character in the share value
    const typo = fields.join(":");
    const bad = run(["keys", "combine", "--stdin"], [shares[0]!, typo, shares[2]!].join("\n"));
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^error\[INVALID_INPUT\]: share stdin line 2: is mistyped or damaged: its checksum does not match\n$/);
    const dup = run(["keys", "combine", "--stdin"], [shares[0]!, shares[2]!, shares[0]!].join("\n"));
    assert.equal(dup.status, 2);
    assert.match(dup.stderr, /^error\[INVALID_INPUT\]: share stdin line 3: is share 1 again \(also given as stdin line 1\)/);
  });

  it("writes share files with mode 0600 to --out-dir, prints only their paths, and refuses to overwrite them", () => {
    const dir = join(cli.home, "escrow");
    const r = run(["keys", "split", "--shares", "3", "--threshold", "2", "--out-dir", dir]);
    assert.equal(r.status, 0, r.stderr);
    const files = [1, 2, 3].map((i) => join(dir, `share-${String(i)}-of-3.txt`));
    assert.equal(r.stdout, files.map((f) => `${f}\n`).join(""));
    for (const f of files) {
      assert.equal(modeOf(f), 0o600);
      assert.match(readFileSync(f, "utf8"), /^coffer-share-v1:primary:[^\n]+:2-of-3:\d:[^\n]+\n$/);
    }
    const again = run(["keys", "split", "--shares", "3", "--threshold", "2", "--out-dir", dir]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /^error\[INVALID_INPUT\]: out-dir: .* already holds shares/);
    assert.equal(again.stdout, "");
  });

  it("combines from files into a new 0600 key file, and refuses to overwrite it", () => {
    const dir = join(cli.home, "escrow");
    const out = join(cli.home, "recovered-key");
    const args = ["keys", "combine", "--file", join(dir, "share-3-of-3.txt"), "--file", join(dir, "share-1-of-3.txt"), "--out", out];
    const r = run(args);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(out, "utf8"), `${masterKey}\n`);
    assert.equal(modeOf(out), 0o600);
    assert.ok(!r.stdout.includes(masterKey));
    const again = run(args);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /^error\[INVALID_INPUT\]: out: .* already exists; refusing to overwrite it\n$/);
  });

  it("combines shares from a file and stdin together, as JSON", () => {
    const file = join(cli.home, "one-share.txt");
    writeFileSync(file, `${shares[3]!}\n`, { mode: 0o600 });
    const r = run(["keys", "combine", "--file", file, "--stdin", "--json"], `${shares[0]!}\n${shares[1]!}\n`);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(
      { ...json, fingerprint: "" },
      { kid: "primary", fingerprint: "", threshold: 3, total: 5, given: 3, configured: "match", verified: true, out: null },
    );
  });

  it("refuses shares of two different splits", () => {
    const other = run(["keys", "split", "--shares", "5", "--threshold", "3"]).stdout.trimEnd().split("\n");
    const r = run(["keys", "combine", "--stdin"], [shares[0]!, shares[1]!, other[2]!].join("\n"));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^error\[INVALID_INPUT\]: share stdin line 3: is from a different split than share stdin line 1/);
  });

  it("refuses an invalid K or N with a clear message and writes no audit event", () => {
    for (const [n, k, msg] of [
      ["1", "2", /^error\[INVALID_INPUT\]: shares: must be a whole number from 2 to 255, got 1\n$/],
      ["256", "2", /^error\[INVALID_INPUT\]: shares: must be a whole number from 2 to 255, got 256\n$/],
      ["3", "1", /^error\[INVALID_INPUT\]: threshold: must be a whole number from 2 to 255, got 1\n$/],
      ["3", "4", /^error\[INVALID_INPUT\]: threshold: must not exceed the number of shares \(4 > 3\)/],
      ["x", "2", /^error\[INVALID_INPUT\]: shares: must be a whole number\n$/],
    ] as const) {
      const r = run(["keys", "split", "--shares", n, "--threshold", k]);
      assert.equal(r.status, 2, `${k}-of-${n}`);
      assert.match(r.stderr, msg);
      assert.equal(r.stdout, "");
    }
    const missing = run(["keys", "split", "--shares", "3"]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^error\[USAGE\]: required option '--threshold <k>' not specified\n$/);
  });

  it("records each split in the audit log with kid, K and N, and no share material", () => {
    const r = run(["audit", "list", "--action", "keys.split", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const events = JSON.parse(r.stdout) as { action: string; outcome: string; details: Record<string, unknown> }[];
    assert.equal(events.length, 3);
    assert.deepEqual(
      events.map((e) => [e.outcome, e.details["kid"], e.details["threshold"], e.details["shares"]]),
      [
        ["success", "primary", 3, 5],
        ["success", "primary", 2, 3],
        ["success", "primary", 3, 5],
      ],
    );
    for (const s of shares) assert.ok(!r.stdout.includes(s.split(":")[6]!));
  });

  it("fails with KEY_MISMATCH when the shares are of another key than the configured one", () => {
    const other = new CliHarness();
    try {
      assert.equal(other.run(["secrets", "set", "project/x", "K", "--stdin"], { input: "v" }).status, 0);
      const r = other.run(["keys", "combine", "--stdin", "--stdout-key"], { input: shares.slice(0, 3).join("\n") });
      stderrs.push(r.stderr);
      assert.equal(r.status, 4);
      assert.equal(r.stdout, "");
      assert.match(
        r.stderr,
        /^error\[KEY_MISMATCH\]: the shares rebuild kid 'primary' with fingerprint [0-9a-f]{16}, but the configured key/,
      );
    } finally {
      other.cleanup();
    }
  });

  it("recovers the key when the configured key file is lost, checked against the shares' fingerprint", () => {
    const fresh = new CliHarness();
    try {
      const r = fresh.run(["keys", "combine", "--stdin", "--stdout-key"], { input: shares.slice(2).join("\n") });
      stderrs.push(r.stderr);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${masterKey}\n`);
      assert.match(r.stderr, /no configured key could be loaded .*checked against the shares' fingerprint only/);
    } finally {
      fresh.cleanup();
    }
  });

  it("splits a chosen kid of a keyring file and verifies it against that kid", () => {
    const keyringCli = new CliHarness();
    try {
      const keys = { old: randomBytes(32).toString("base64"), current: randomBytes(32).toString("base64") };
      const path = join(keyringCli.home, "keyring.json");
      writeFileSync(path, JSON.stringify({ active: "current", keys }), { mode: 0o600 });
      const env = { COFFER_KEYRING_FILE: path };
      const split = keyringCli.run(["keys", "split", "--shares", "2", "--threshold", "2", "--kid", "old"], { env });
      stderrs.push(split.stderr);
      assert.equal(split.status, 0, split.stderr);
      assert.match(split.stdout, /^coffer-share-v1:old:/);
      const back = keyringCli.run(["keys", "combine", "--stdin", "--stdout-key"], { input: split.stdout, env });
      stderrs.push(back.stderr);
      assert.equal(back.status, 0, back.stderr);
      assert.equal(back.stdout, `${keys.old}\n`);
      assert.match(back.stderr, /matches the configured key 'old'/);
      const unknown = keyringCli.run(["keys", "split", "--shares", "2", "--threshold", "2", "--kid", "nope"], { env });
      assert.equal(unknown.status, 4);
      assert.match(unknown.stderr, /^error\[KEY_NOT_FOUND\]/);
    } finally {
      keyringCli.cleanup();
    }
  });

  it("never shows the master key on stderr or in the audit log (canary)", () => {
    assert.ok(masterKey.length === 44);
    const audit = run(["audit", "list", "--json", "--limit", "1000"]);
    assert.equal(audit.status, 0);
    assert.ok(!audit.stdout.includes(masterKey), "master key in the audit log");
    assert.ok(!stderrs.join("\n").includes(masterKey), "master key on stderr");
    const keyHex = Buffer.from(masterKey, "base64").toString("hex");
    assert.ok(!audit.stdout.includes(keyHex) && !stderrs.join("\n").includes(keyHex));
  });
});
