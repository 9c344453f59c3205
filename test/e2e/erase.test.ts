import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { BIN, CliHarness } from "../fixtures/cli.ts";
import { rawDb } from "../fixtures/raw-db.ts";

const hasScript = spawnSync("script", ["--version"]).status === 0;

/** Rows of one owner id in every tenant table, read past Coffer. */
function rowsOf(home: string, id: string): { secrets: number; versions: number; scopeKeys: number } {
  const db = rawDb(home);
  try {
    const n = (q: string): number => (db.prepare(q).get(id) as { n: number }).n;
    return {
      secrets: n("SELECT count(*) AS n FROM secrets WHERE owner_id = ?"),
      versions: n("SELECT count(*) AS n FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.owner_id = ?"),
      scopeKeys: n("SELECT count(*) AS n FROM scope_keys WHERE owner_id = ?"),
    };
  } finally {
    db.close();
  }
}

/** Runs `coffer` on a pseudo-terminal (util-linux `script`), typing `answer` at the prompt. */
async function onTty(cli: CliHarness, args: readonly string[], answer: string): Promise<{ code: number | null; screen: string }> {
  const cmd = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const child = spawn("script", ["-qec", cmd, "/dev/null"], { env: cli.env, stdio: ["pipe", "pipe", "pipe"] });
  let screen = "";
  let answered = false;
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => {
    screen += d;
    if (!answered && /to confirm: /.test(screen)) {
      answered = true;
      child.stdin.write(answer);
    }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  clearTimeout(timer);
  return { code, screen };
}

describe("coffer erase (real child processes, SQLite)", () => {
  let cli: CliHarness;
  const seed = (owner: string): void => {
    for (const [key, value] of [
      ["A", "erase-me-1"],
      ["A", "erase-me-2"],
      ["B", "erase-me-3"],
    ]) {
      const r = cli.run(["secrets", "set", owner, key ?? "", "--stdin"], { input: value ?? "" });
      assert.equal(r.status, 0, r.stderr);
    }
  };

  before(() => {
    cli = new CliHarness();
    seed("project/kept");
  });
  after(() => {
    cli.cleanup();
  });

  it("refuses when not interactive without --yes (exit 2), erasing nothing", () => {
    seed("project/asked");
    const r = cli.run(["erase", "project/asked"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^error\[CONFIRMATION_REQUIRED\]: erasing needs confirmation: run on a terminal, or pass --yes/);
    assert.deepEqual(rowsOf(cli.home, "asked"), { secrets: 2, versions: 3, scopeKeys: 1 });
  });

  it("rejects an invalid --backup-retention (exit 2, naming the flag), erasing nothing", () => {
    for (const bad of ["30", "1w", "30 d", "0d"]) {
      const r = cli.run(["erase", "project/asked", "--yes", "--backup-retention", bad]);
      assert.equal(r.status, 2, bad);
      assert.match(r.stderr, /^error\[INVALID_INPUT\]: --backup-retention: must be a whole number of minutes, hours or days/);
    }
    assert.deepEqual(rowsOf(cli.home, "asked"), { secrets: 2, versions: 3, scopeKeys: 1 });
  });

  it("erases with --yes and says plainly that backups stay decryptable without a retention", () => {
    const r = cli.run(["erase", "project/asked", "--yes"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^erased project\/asked: 2 secret\(s\), 3 version\(s\), 1 scope key\(s\)\n/);
    assert.match(r.stdout, /live database: unrecoverable since \d{4}-\d\d-\d\dT/);
    assert.match(r.stdout, /without a retention, backups taken before now stay decryptable until kid\(s\) primary are retired/);
    assert.match(r.stdout, /unrecoverable everywhere: not yet known\n$/);
    assert.deepEqual(rowsOf(cli.home, "asked"), { secrets: 0, versions: 0, scopeKeys: 0 });
    assert.deepEqual(rowsOf(cli.home, "kept"), { secrets: 2, versions: 3, scopeKeys: 1 });
  });

  it("leaves nothing to read: secrets get is NOT_FOUND, secrets list shows nothing, a second erase is NOT_FOUND", () => {
    const got = cli.run(["secrets", "get", "project/asked", "A"]);
    assert.equal(got.status, 3);
    assert.match(got.stderr, /^error\[NOT_FOUND\]/);
    const listed = cli.run(["secrets", "list", "project/asked", "--deleted", "--json"]);
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout), []);
    assert.doesNotMatch(cli.run(["secrets", "list"]).stdout, /project\/asked/);
    assert.equal(cli.run(["erase", "project/asked", "--yes"]).status, 3);
  });

  it("prints the report as JSON, with the retention from COFFER_BACKUP_RETENTION or the flag (which wins)", () => {
    seed("project/json");
    const r = cli.run(["erase", "project/json", "--yes", "--json"], { env: { COFFER_BACKUP_RETENTION: "30d" } });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Record<string, unknown> & { erasedAt: string; backups: Record<string, unknown> };
    assert.deepEqual(Object.keys(report), ["owner", "erasedAt", "secrets", "versions", "scopeKeys", "kids", "liveDatabase", "backups"]);
    const agedOutAt = new Date(Date.parse(report.erasedAt) + 30 * 86_400_000).toISOString();
    assert.deepEqual(report, {
      owner: "project/json",
      erasedAt: report.erasedAt,
      secrets: 2,
      versions: 3,
      scopeKeys: 1,
      kids: ["primary"],
      liveDatabase: report.erasedAt,
      backups: { backupRetention: "30d", agedOutAt, kidRetiredAt: null, unrecoverableEverywhereAt: agedOutAt },
    });
    seed("project/flag");
    const f = cli.run(["erase", "project/flag", "--yes", "--json", "--backup-retention", "12h"], {
      env: { COFFER_BACKUP_RETENTION: "30d" },
    });
    assert.equal((JSON.parse(f.stdout) as { backups: { backupRetention: string } }).backups.backupRetention, "12h");
  });

  it("audits each erase with counts, never values, and the chain verifies", () => {
    const events = JSON.parse(cli.run(["audit", "list", "--action", "owner.erase", "--json"]).stdout) as {
      owner: string;
      outcome: string;
      details: Record<string, unknown>;
    }[];
    const asked = events.find((e) => e.owner === "project/asked" && e.outcome === "success");
    assert.deepEqual(asked?.details, { secrets: 2, versions: 3, scopeKeys: 1, kids: "primary" });
    assert.equal(cli.run(["audit", "verify"]).status, 0);
    assert.doesNotMatch(cli.allOutput(), /erase-me-/);
  });

  describe("on a terminal", { skip: hasScript ? false : "util-linux script is not installed" }, () => {
    it("erases nothing when the typed owner does not match", async () => {
      seed("project/tty");
      const r = await onTty(cli, ["erase", "project/tty"], "project/other\r");
      assert.equal(r.code, 2, r.screen);
      assert.match(r.screen, /CONFIRMATION_REQUIRED/);
      assert.deepEqual(rowsOf(cli.home, "tty"), { secrets: 2, versions: 3, scopeKeys: 1 });
    });

    it("erases once the owner is typed to confirm", async () => {
      const r = await onTty(cli, ["erase", "project/tty"], "project/tty\r");
      assert.equal(r.code, 0, r.screen);
      assert.match(r.screen, /Type project\/tty to confirm: /);
      assert.match(r.screen, /erased project\/tty: 2 secret\(s\)/);
      assert.deepEqual(rowsOf(cli.home, "tty"), { secrets: 0, versions: 0, scopeKeys: 0 });
    });
  });
});
