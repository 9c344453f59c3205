import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { parse as parseYaml } from "yaml";
import { BIN } from "../fixtures/cli.ts";

type Result = { status: number | null; stdout: string; stderr: string };

describe("coffer policy (declarative recipients, real child processes)", () => {
  let dir: string;
  const ids: Record<string, string> = {};
  const keys: Record<string, string> = {};
  const run = (args: readonly string[], env: Record<string, string> = {}): Result => {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
      env: { PATH: process.env["PATH"] ?? "", HOME: dir, XDG_CONFIG_HOME: join(dir, "xdg"), ...env },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const policy = (prodTargets: string): string => `groups:
  prod:
    recipients:
      admins:
        - { name: alice, age: ${keys["alice"] ?? ""} }
        - { name: ci, kms: "arn:aws:kms:eu-west-1:111122223333:key/abcd" }
      targets:
        - { name: web1, age: ${keys["web1"] ?? ""} }
        - { name: db1, age: ${keys["db1"] ?? ""} }
    secrets:
      apiKey:
        admins: [alice]
        targets: ${prodTargets}
      dbPassword:
        targets: "*"
        file: secrets/prod/db.env
  dev:
    recipients:
      admins:
        - { name: bob, age: ${keys["bob"] ?? ""} }
      targets: []
    secrets:
      nobody:
        admins: []
`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "coffer-policy-"));
    for (const n of ["alice", "bob", "web1", "db1"]) {
      ids[n] = await generateX25519Identity();
      keys[n] = await identityToRecipient(ids[n]);
    }
    writeFileSync(join(dir, "coffer.policy.yaml"), policy("[web1]"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("check validates, and lists unused recipients and secrets readable by nobody", () => {
    const r = run(["policy", "check"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /warning: groups\.dev\.secrets\.nobody: readable by nobody/);
    assert.match(r.stdout, /warning: groups\.dev\.recipients\.admins\.bob: recipient 'bob' reads no secret/);
    assert.match(r.stdout, /policy ok: 2 groups, 3 secrets/);
  });

  it("check refuses an unknown name, listing the valid ones, with a non-zero exit", () => {
    writeFileSync(join(dir, "bad.policy.yaml"), policy("[web1, web9]"));
    const r = run(["policy", "check", "--policy", "bad.policy.yaml"]);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /^error\[INVALID_INPUT\]: bad\.policy\.yaml: groups\.prod\.secrets\.apiKey\.targets\.1: unknown name 'web9'; valid names: web1, db1\n$/,
    );
    writeFileSync(
      join(dir, "bad2.policy.yaml"),
      "groups:\n  prod:\n    recipients:\n      admins:\n        - { name: x, age: age1nope }\n",
    );
    const r2 = run(["policy", "check", "--policy", "bad2.policy.yaml"]);
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /^error\[INVALID_INPUT\]: bad2\.policy\.yaml: groups\.prod\.recipients\.admins\.0\.age: /);
  });

  it("recipients computes admins (default: all) plus the selected targets", () => {
    const r = run(["policy", "recipients", "prod", "dbPassword"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      r.stdout
        .trim()
        .split("\n")
        .map((l) => l.split("\t").slice(0, 3).join(" ")),
      ["alice admin age", "ci admin kms", "web1 target age", "db1 target age"],
    );
    const api = run(["policy", "recipients", "prod", "apiKey", "--json"]);
    assert.deepEqual(
      (JSON.parse(api.stdout) as { recipients: { name: string }[] }).recipients.map((x) => x.name),
      ["alice", "web1"],
    );
    const missing = run(["policy", "recipients", "prod", "nope"]);
    assert.equal(missing.status, 3);
    assert.match(missing.stderr, /secrets: apiKey, dbPassword/);
  });

  it("sops-config writes one creation rule per secret file, which file encrypt then uses", () => {
    const r = run(["policy", "sops-config"]);
    assert.equal(r.status, 0, r.stderr);
    const cfg = parseYaml(readFileSync(join(dir, ".sops.yaml"), "utf8")) as {
      creation_rules: { path_regex: string; age?: string[]; kms?: string }[];
    };
    assert.deepEqual(
      cfg.creation_rules.map((c) => c.path_regex),
      ["^secrets/prod/apiKey\\.yaml$", "^secrets/prod/db\\.env$", "^secrets/dev/nobody\\.yaml$"],
    );
    assert.deepEqual(cfg.creation_rules[0]?.age, [keys["alice"], keys["web1"]]);
    assert.equal(cfg.creation_rules[1]?.kms, "arn:aws:kms:eu-west-1:111122223333:key/abcd");
    mkdirSync(join(dir, "secrets", "prod"), { recursive: true });
    writeFileSync(join(dir, "secrets", "prod", "apiKey.yaml"), "apiKey: k-123\n");
    const enc = run(["file", "encrypt", "--in-place", "secrets/prod/apiKey.yaml"]);
    assert.equal(enc.status, 0, enc.stderr);
    const web1 = run(["file", "decrypt", "secrets/prod/apiKey.yaml"], { SOPS_AGE_KEY: ids["web1"] ?? "" });
    assert.equal(web1.stdout, "apiKey: k-123\n");
    const db1 = run(["file", "decrypt", "secrets/prod/apiKey.yaml"], { SOPS_AGE_KEY: ids["db1"] ?? "" });
    assert.equal(db1.status, 4);
  });

  it("apply rewraps every file whose computed recipients changed and reports each", () => {
    writeFileSync(join(dir, "coffer.policy.yaml"), policy("[db1]"));
    const dry = run(["policy", "apply", "--dry-run"]);
    assert.match(dry.stdout, new RegExp(`would-update\\tsecrets/prod/apiKey\\.yaml\\t\\+${keys["db1"] ?? ""} -${keys["web1"] ?? ""}`));
    const r = run(["policy", "apply"], { SOPS_AGE_KEY: ids["alice"] ?? "" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^updated\tsecrets\/prod\/apiKey\.yaml\t\+age1/m);
    assert.match(r.stdout, /^missing\tsecrets\/prod\/db\.env$/m);
    assert.equal(run(["file", "decrypt", "secrets/prod/apiKey.yaml"], { SOPS_AGE_KEY: ids["db1"] ?? "" }).stdout, "apiKey: k-123\n");
    assert.equal(run(["file", "decrypt", "secrets/prod/apiKey.yaml"], { SOPS_AGE_KEY: ids["web1"] ?? "" }).status, 4);
    const again = run(["policy", "apply"], { SOPS_AGE_KEY: ids["alice"] ?? "" });
    assert.match(again.stdout, /^unchanged\tsecrets\/prod\/apiKey\.yaml$/m);
  });
});
