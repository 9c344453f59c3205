import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse as parseToml } from "smol-toml";
import { BIN, CliHarness } from "../fixtures/cli.ts";
import { freshDatabase, postgresAvailable, type FreshDatabase } from "../fixtures/postgres.ts";
import { baseEnv, call, removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

const CANARY = 'CANARY-render-"\\\n\u00e9\u65e5-7f3a';
const BACKUP_TEMPLATE = [
  "# rustic backup configuration for {{{{ the project }}",
  "[repository]",
  'repository = "opendal:s3"',
  'password = {{ secret "RUSTIC_PASSWORD" }}',
  'hand_set = {{ secret "project/acme" "HAND_SET" }}',
  "[repository.options]",
  'bucket = {{ secret "BUCKET" default="coffer-backups" }}',
  "",
].join("\n");

type Generated = { created: boolean; version: number; meta: Record<string, string> };

/** `n` real `coffer` processes started at once; their exit statuses and stdout. */
async function concurrently(
  n: number,
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }[]> {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          const p = spawn(process.execPath, [BIN, ...args], { env: baseEnv(env), stdio: ["ignore", "pipe", "pipe"] });
          let stdout = "";
          let stderr = "";
          p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
          p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
          p.on("exit", (status) => {
            resolve({ status, stdout, stderr });
          });
        }),
    ),
  );
}

describe("coffer secrets generate (real CLI processes)", () => {
  let cli: CliHarness;
  before(() => {
    cli = new CliHarness({ COFFER_KEK_PROVIDER: "file" });
  });
  after(() => {
    cli.cleanup();
  });

  it("stores a random value that is never printed, keeps its policy, and regenerates with it", () => {
    const r = cli.run(["secrets", "generate", "project/acme", "PW", "--length", "48", "--charset", "alnum-symbols", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const g = JSON.parse(r.stdout) as Generated;
    assert.equal(g.created, true);
    assert.deepEqual(JSON.parse(g.meta["coffer.generator"] ?? ""), { charset: "alnum-symbols", length: 48 });
    const first = cli.run(["secrets", "get", "project/acme", "PW", "--reveal", "--yes", "--reason", "check"]).stdout;
    assert.equal(first.length, 48);
    assert.ok(!r.stdout.includes(first) && !r.stderr.includes(first), "generate does not print the value");
    const again = cli.run(["secrets", "rotate", "project/acme", "PW", "--regenerate"]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /regenerated project\/acme PW: a new random value as v2/);
    const second = cli.run(["secrets", "get", "project/acme", "PW", "--reveal", "--yes", "--reason", "check"]).stdout;
    assert.equal(second.length, 48);
    assert.notEqual(second, first);
  });

  it("draws only from the chosen set, and encodes random bytes", () => {
    const sets: [string[], RegExp][] = [
      [["--charset", "hex", "--length", "64"], /^[0-9a-f]{64}$/],
      [["--charset", "digits", "--length", "12"], /^\d{12}$/],
      [["--charset", "base64url"], /^[A-Za-z0-9_-]{32}$/],
      [["--charset", "custom:xyz"], /^[xyz]{32}$/],
      [["--bytes", "32", "--encoding", "hex"], /^[0-9a-f]{64}$/],
      [["--bytes", "32", "--encoding", "base64"], /^[A-Za-z0-9+/]{43}=$/],
    ];
    sets.forEach(([opts, re], i) => {
      const key = `SET_${String(i)}`;
      assert.equal(cli.run(["secrets", "generate", "project/acme", key, ...opts]).status, 0);
      assert.match(cli.run(["secrets", "get", "project/acme", key, "--reveal", "--yes", "--reason", "t"]).stdout, re, opts.join(" "));
    });
  });

  it("refuses bad options naming the option, exit 2, nothing written", () => {
    for (const [opts, field] of [
      [["--length", "0"], "length"],
      [["--length", "100000"], "length"],
      [["--charset", "emoji"], "charset"],
      [["--charset", "custom:"], "charset"],
      [["--charset", "custom:aab"], "charset"],
      [["--bytes", "16", "--charset", "hex"], "bytes"],
      [["--bytes", "16", "--length", "3"], "bytes"],
      [["--encoding", "hex"], "bytes"],
      [["--bytes", "16", "--encoding", "base32"], "encoding"],
    ] as const) {
      const r = cli.run(["secrets", "generate", "project/acme", "BAD", ...opts]);
      assert.equal(r.status, 2, `${opts.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^error\\[INVALID_INPUT\\]: ${field}: `), opts.join(" "));
    }
    assert.equal(cli.run(["secrets", "get", "project/acme", "BAD"]).status, 3, "nothing was written");
  });

  it("--reveal prints the value as an audited reveal", () => {
    const r = cli.run(["secrets", "generate", "project/acme", "SHOWN", "--length", "20", "--reveal", "--yes", "--reason", "hand over"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^[A-Za-z0-9]{20}$/);
    const audit = cli.run(["audit", "list", "--action", "secret.reveal", "--json"]).stdout;
    assert.match(audit, /"reason": "hand over"/);
  });
});

for (const dialect of ["sqlite", "postgres"] as const) {
  describe(
    `coffer secrets generate --if-missing with 8 concurrent processes (${dialect})`,
    { skip: dialect === "postgres" && !postgresAvailable() },
    () => {
      let cli: CliHarness;
      let db: FreshDatabase | null = null;
      before(async () => {
        db = dialect === "postgres" ? await freshDatabase() : null;
        cli = new CliHarness({ COFFER_KEK_PROVIDER: "file", ...(db === null ? {} : { COFFER_DB_URL: db.url }) });
        // The database exists before the race (concurrent first use of a new SQLite file is not what this tests).
        if (db !== null) assert.equal(cli.run(["migrate"]).status, 0);
        else assert.equal(cli.run(["secrets", "list"]).status, 0);
      });
      after(async () => {
        cli.cleanup();
        await db?.drop();
      });

      it("ends with exactly one version, and every caller succeeds", async () => {
        const runs = await concurrently(8, ["secrets", "generate", "project/acme", "RUSTIC_PASSWORD", "--if-missing", "--json"], cli.env);
        for (const r of runs) assert.equal(r.status, 0, r.stderr);
        const results = runs.map((r) => JSON.parse(r.stdout) as Generated);
        assert.equal(results.filter((g) => g.created).length, 1, "one caller created it");
        assert.ok(results.every((g) => g.version === 1));
        const history = JSON.parse(cli.run(["secrets", "history", "project/acme", "RUSTIC_PASSWORD", "--json"]).stdout) as unknown[];
        assert.equal(history.length, 1);
      });
    },
  );
}

describe("coffer render: seed 000's backup configuration, end to end", () => {
  let srv: ServerHandle;
  let host: CliHarness;
  let admin: CliHarness;
  let dir: string;

  before(async () => {
    srv = await startServer({ env: { COFFER_KEK_PROVIDER: "file" } });
    admin = new CliHarness({ COFFER_ADDR: srv.url, COFFER_TOKEN: srv.adminToken ?? "" });
    // The control plane, when project acme is created:
    assert.equal(
      admin.run(["secrets", "generate", "project/acme", "RUSTIC_PASSWORD", "--if-missing", "--charset", "alnum-symbols", "--length", "40"])
        .status,
      0,
    );
    assert.equal(admin.run(["secrets", "set", "project/acme", "HAND_SET", "--stdin"], { input: `${CANARY}\n` }).status, 0);
    admin.run(["secrets", "set", "project/other", "SECRET", "--stdin"], { input: "other-tenant" });
    const t = await call(srv.url, "POST", "/v1/tokens", {
      token: srv.adminToken,
      body: { name: "host-acme", scopes: ["secrets:read", "secrets:reveal"], owners: ["project/acme"] },
    });
    host = new CliHarness({ COFFER_ADDR: srv.url, COFFER_TOKEN: (t.body as { token: string }).token });
    dir = host.home;
    writeFileSync(join(dir, "backup.toml.tmpl"), BACKUP_TEMPLATE);
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
    host.cleanup();
    admin.cleanup();
  });

  it("renders a TOML file (mode 0600) whose parser yields each password byte for byte, and audits each reveal", async () => {
    const out = join(dir, "backup.toml");
    const r = host.run(["render", "--template", join(dir, "backup.toml.tmpl"), "--owner", "project/acme", "--out", out]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const toml = parseToml(readFileSync(out, "utf8")) as {
      repository: { password: string; hand_set: string; options: { bucket: string } };
    };
    const generated = admin.run(["secrets", "get", "project/acme", "RUSTIC_PASSWORD", "--reveal", "--yes", "--reason", "compare"]).stdout;
    assert.equal(toml.repository.password, generated);
    assert.equal(toml.repository.hand_set, CANARY);
    assert.equal(toml.repository.options.bucket, "coffer-backups");
    assert.match(readFileSync(out, "utf8"), /^# rustic backup configuration for \{\{ the project \}\}\n/);
    assert.ok(!host.allOutput().includes(CANARY), "the CLI printed no value");
    const events = (await call(srv.url, "GET", "/v1/audit?action=secret.reveal&limit=1000", { token: srv.adminToken })).body as {
      items: { key: string | null; reason: string | null; actor: string }[];
    };
    const renders = events.items.filter((e) => e.reason === "render backup.toml.tmpl");
    assert.deepEqual(renders.map((e) => e.key).sort(), ["HAND_SET", "RUSTIC_PASSWORD"]);
  });

  it("fails with nothing written when a reference is missing or outside the token's owners, naming it", () => {
    const missing = join(dir, "missing.toml.tmpl");
    writeFileSync(missing, 'a = {{ secret "project/acme" "NOPE" }}\n');
    const m = host.run(["render", "--template", missing, "--out", join(dir, "missing.toml")]);
    assert.equal(m.status, 3);
    assert.match(m.stderr, /error\[NOT_FOUND\]: template: project\/acme NOPE \(line 1\) does not exist/);
    assert.equal(existsSync(join(dir, "missing.toml")), false);

    const foreign = join(dir, "foreign.toml.tmpl");
    writeFileSync(foreign, 'a = {{ secret "project/acme" "HAND_SET" }}\nb = {{ secret "project/other" "SECRET" }}\n');
    const f = host.run(["render", "--template", foreign, "--out", join(dir, "foreign.toml")]);
    assert.equal(f.status, 6, f.stderr);
    assert.match(f.stderr, /SCOPE_DENIED/);
    assert.equal(existsSync(join(dir, "foreign.toml")), false);
    assert.ok(!f.stdout.includes(CANARY) && !f.stdout.includes("other-tenant"));
  });

  it("stores the template on the server; the host renders it with --stored; after coffer erase it can never render again", () => {
    const put = admin.run(["template", "put", "project/acme", "backup.toml", "--file", join(dir, "backup.toml.tmpl")]);
    assert.equal(put.status, 0, put.stderr);
    assert.match(put.stdout, /stored template project\/acme backup\.toml \(3 references, format toml\)/);
    assert.equal(
      host.run(["template", "put", "project/acme", "x.toml"], { input: "a = 1\n" }).status,
      6,
      "a reveal-only host cannot store",
    );
    const out = join(dir, "stored.toml");
    const r = host.run(["render", "--stored", "project/acme/backup.toml", "--out", out, "--mode", "0640"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(out).mode & 0o777, 0o640);
    const toml = parseToml(readFileSync(out, "utf8")) as { repository: { hand_set: string } };
    assert.equal(toml.repository.hand_set, CANARY);
    assert.equal(host.run(["template", "get", "project/acme", "backup.toml"]).stdout, BACKUP_TEMPLATE);
    // Deleting the project (the control plane runs this on the server's own data directory).
    const local = new CliHarness({ COFFER_HOME: srv.home, COFFER_KEK_PROVIDER: "file" });
    try {
      assert.equal(local.run(["erase", "project/acme", "--yes"]).status, 0);
    } finally {
      local.cleanup();
    }
    const gone = host.run(["render", "--stored", "project/acme/backup.toml", "--out", join(dir, "gone.toml")]);
    assert.equal(gone.status, 3, gone.stderr);
    assert.match(gone.stderr, /error\[NOT_FOUND\]: template: project\/acme RUSTIC_PASSWORD \(line 4\) does not exist/);
    assert.equal(existsSync(join(dir, "gone.toml")), false);
  });

  it("refuses a template it cannot parse or place, naming the line, and an unknown format", () => {
    const bad = join(dir, "bad.toml.tmpl");
    writeFileSync(bad, 'ok = 1\nx = {{ env "HOME" }}\n');
    const r = host.run(["render", "--template", bad]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /error\[INVALID_INPUT\]: template:2:5: a reference must start with secret/);
    const plain = join(dir, "notes.tmpl");
    writeFileSync(plain, "x\n");
    assert.match(host.run(["render", "--template", plain]).stderr, /error\[INVALID_INPUT\]: format: notes\.tmpl does not say its format/);
    assert.match(
      host.run(["render", "--template", bad, "--mode", "rwx"]).stderr,
      /error\[INVALID_INPUT\]: mode: must be an octal file mode/,
    );
  });
});
