import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";

describe("coffer CLI (local mode, real child processes)", () => {
  let cli: CliHarness;
  before(() => {
    cli = new CliHarness();
  });
  after(() => {
    cli.cleanup();
  });

  it("stores a value from stdin, dropping one trailing newline, and prints it masked", () => {
    const r = cli.run(["secrets", "set", "project/acme", "DB_PASSWORD", "--stdin", "--meta", "provider=pg"], { input: "s3cret-pw\n" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "project/acme DB_PASSWORD v1 ******** provider=pg\n");
    const got = cli.run(["secrets", "get", "project/acme", "DB_PASSWORD", "--reveal", "--yes", "--reason", "check"]);
    assert.equal(got.stdout, "s3cret-pw");
  });

  it("creates the master key with mode 0600 in a 0700 directory", () => {
    assert.equal(statSync(join(cli.home, "secrets", "master-key")).mode & 0o777, 0o600);
    assert.equal(statSync(join(cli.home, "secrets")).mode & 0o777, 0o700);
  });

  it("stores a file byte for byte", () => {
    const path = join(cli.home, "value.bin");
    writeFileSync(path, Buffer.from([0, 1, 2, 255, 10]));
    assert.equal(cli.run(["secrets", "set", "project/acme", "BLOB", "--file", path]).status, 0);
    const r = cli.run(["secrets", "get", "project/acme", "BLOB", "--reveal", "--yes", "--reason", "r", "--json"]);
    const json = JSON.parse(r.stdout) as { value: string | null; valueBase64?: string };
    assert.equal(json.value, null);
    assert.equal(json.valueBase64, Buffer.from([0, 1, 2, 255, 10]).toString("base64"));
  });

  it("warns that a value on the command line is visible in shell history", () => {
    const r = cli.run(["secrets", "set", "project/acme", "INLINE", "inline-value"]);
    assert.equal(r.status, 0);
    assert.match(r.stderr, /visible in shell history/);
  });

  it("refuses to prompt for a value without a terminal", () => {
    const r = cli.run(["secrets", "set", "project/acme", "NOVALUE"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^error\[USAGE\]: no value given/);
  });

  it("requires --yes to reveal when not interactive, and a reason", () => {
    const noYes = cli.run(["secrets", "get", "project/acme", "DB_PASSWORD", "--reveal"]);
    assert.equal(noYes.status, 2);
    assert.match(noYes.stderr, /^error\[CONFIRMATION_REQUIRED\]/);
    assert.equal(noYes.stdout, "");
    const noReason = cli.run(["secrets", "get", "project/acme", "DB_PASSWORD", "--reveal", "--yes"]);
    assert.equal(noReason.status, 2);
    assert.match(noReason.stderr, /^error\[INVALID_INPUT\]: reason: /);
  });

  it("prints machine-readable JSON with --json", () => {
    const r = cli.run(["secrets", "get", "project/acme", "DB_PASSWORD", "--json"]);
    const v = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(v["value"], "********");
    assert.equal(v["version"], 1);
    const list = JSON.parse(cli.run(["secrets", "list", "project/acme", "--json"]).stdout) as unknown[];
    assert.ok(list.length >= 2);
  });

  it("checks and sets on --expect-version, exiting 5 on a conflict", () => {
    const r = cli.run(["secrets", "set", "project/acme", "DB_PASSWORD", "--stdin", "--expect-version", "7"], { input: "x" });
    assert.equal(r.status, 5);
    assert.match(r.stderr, /^error\[CONFLICT\]/);
  });

  it("lists with a prefix and metadata, history, rotate and unset", () => {
    const list = cli.run(["secrets", "list", "project/acme", "--prefix", "DB_", "--meta"]);
    assert.match(list.stdout, /DB_PASSWORD\s+v1\s+\*{8}.*provider=pg/);
    assert.doesNotMatch(list.stdout, /INLINE/);
    assert.equal(cli.run(["secrets", "rotate", "project/acme", "DB_PASSWORD"]).status, 0);
    assert.match(cli.run(["secrets", "history", "project/acme", "DB_PASSWORD"]).stdout, /v1 .*current/);
    assert.equal(cli.run(["secrets", "unset", "project/acme", "INLINE"]).status, 0);
    const gone = cli.run(["secrets", "get", "project/acme", "INLINE"]);
    assert.equal(gone.status, 3);
    assert.match(gone.stderr, /^error\[NOT_FOUND\]/);
  });

  it("reports bad input in one line naming the field, exit 2, no stack trace, nothing written", () => {
    for (const args of [
      ["secrets", "set", "team/x", "K", "--stdin"],
      ["secrets", "set", "project/acme", "9BAD", "--stdin"],
      ["secrets", "set", "project/acme", "K", "--stdin", "--meta", "Bad Key=x"],
      ["secrets", "get", "project/acme", "K", "--version", "abc"],
      ["secrets", "frobnicate"],
    ]) {
      const r = cli.run(args, { input: "v" });
      assert.equal(r.status, 2, args.join(" "));
      assert.match(r.stderr, /^error\[(INVALID_INPUT|USAGE)\]: .+\n$/, args.join(" "));
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    assert.equal(cli.run(["secrets", "get", "project/acme", "K"]).status, 3);
  });

  it("refuses a value over 64 KiB", () => {
    const r = cli.run(["secrets", "set", "project/acme", "BIG", "--stdin"], { input: "x".repeat(64 * 1024 + 1) });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /value: must be at most 65536 bytes/);
  });

  it("verifies the audit chain, and exits 7 naming the event after tampering", async () => {
    const ok = cli.run(["audit", "verify"]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /audit chain intact/);
    const { rawDb, dropAuditTriggers } = await import("../fixtures/raw-db.ts");
    const db = rawDb(cli.home);
    dropAuditTriggers(db);
    db.exec("UPDATE audit_events SET actor = 'local:mallory' WHERE seq = 1");
    db.close();
    const bad = cli.run(["audit", "verify"]);
    assert.equal(bad.status, 7);
    assert.match(bad.stdout, /event 1: its MAC does not match/);
    assert.match(bad.stderr, /^error\[AUDIT_CHAIN_BROKEN\]/);
  });

  it("lists audit events with actor, action, outcome and reason", () => {
    const r = cli.run(["audit", "list", "--action", "secret.reveal", "--json"]);
    const events = JSON.parse(r.stdout) as { action: string; reason: string | null; actor: string }[];
    assert.ok(events.length > 0);
    assert.ok(events.every((e) => e.action === "secret.reveal"));
    assert.ok(events.some((e) => e.reason === "check"));
  });
});

describe("coffer CLI fails closed on keys", () => {
  it("exits 4 with how to generate a key when COFFER_KEK_BASE64 is not 32 bytes, writing nothing", () => {
    const cli = new CliHarness({ COFFER_KEK_BASE64: Buffer.alloc(16, 7).toString("base64") });
    try {
      const r = cli.run(["secrets", "set", "project/a", "K", "--stdin"], { input: "v" });
      assert.equal(r.status, 4);
      assert.match(r.stderr, /^error\[KEY_INVALID\]: COFFER_KEK_BASE64 decodes to 16 bytes.*openssl rand -base64 32/);
      assert.equal(existsSync(join(cli.home, "coffer.db")), false);
    } finally {
      cli.cleanup();
    }
  });

  it("refuses a master key readable by group or others, writing nothing", () => {
    const cli = new CliHarness();
    try {
      cli.run(["secrets", "set", "project/a", "K", "--stdin"], { input: "v" });
      const key = join(cli.home, "secrets", "master-key");
      chmodSync(key, 0o644);
      const before = readFileSync(join(cli.home, "coffer.db"));
      const r = cli.run(["secrets", "set", "project/a", "K2", "--stdin"], { input: "v" });
      assert.equal(r.status, 4);
      assert.match(r.stderr, /^error\[KEY_INVALID\]: master key file .* is accessible by group or others \(mode 0644\); run: chmod 600/);
      assert.deepEqual(readFileSync(join(cli.home, "coffer.db")), before);
    } finally {
      cli.cleanup();
    }
  });

  it("refuses a key directory writable by group or others, writing nothing", () => {
    const cli = new CliHarness();
    try {
      cli.run(["secrets", "set", "project/a", "K", "--stdin"], { input: "v" });
      const dir = join(cli.home, "secrets");
      chmodSync(dir, 0o770);
      const before = readFileSync(join(cli.home, "coffer.db"));
      const r = cli.run(["secrets", "set", "project/a", "K2", "--stdin"], { input: "v" });
      assert.equal(r.status, 4);
      assert.match(
        r.stderr,
        /^error\[KEY_INVALID\]: key directory .*secrets is writable by group or others \(mode 0770\), .*; run: chmod 700 /,
      );
      assert.deepEqual(readFileSync(join(cli.home, "coffer.db")), before);
      chmodSync(dir, 0o700);
      assert.equal(cli.run(["secrets", "get", "project/a", "K"]).status, 0);
    } finally {
      cli.cleanup();
    }
  });

  it("refuses to create a new master key when the database already holds wrapped data", () => {
    const cli = new CliHarness();
    try {
      cli.run(["secrets", "set", "project/a", "K", "--stdin"], { input: "v" });
      const key = join(cli.home, "secrets", "master-key");
      writeFileSync(join(cli.home, "key.bak"), readFileSync(key));
      rmSync(key);
      const r = cli.run(["secrets", "list"]);
      assert.equal(r.status, 4);
      assert.match(r.stderr, /^error\[KEY_NOT_FOUND\]: master key file .* is missing/);
      assert.equal(existsSync(key), false);
    } finally {
      cli.cleanup();
    }
  });

  it("refuses a different key than the one the database was written with", () => {
    const cli = new CliHarness();
    try {
      cli.run(["secrets", "set", "project/a", "K", "--stdin"], { input: "v" });
      writeFileSync(join(cli.home, "secrets", "master-key"), `${Buffer.alloc(32, 9).toString("base64")}\n`, { mode: 0o600 });
      const r = cli.run(["secrets", "get", "project/a", "K", "--reveal", "--yes", "--reason", "r"]);
      assert.equal(r.status, 4);
      assert.match(r.stderr, /^error\[KEY_MISMATCH\]/);
    } finally {
      cli.cleanup();
    }
  });
});
