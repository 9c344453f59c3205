import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { BIN, CliHarness } from "../fixtures/cli.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { carve, ownerMaterial, sqliteFiles, unwrappableScopeKeys, type OwnerMaterial } from "../fixtures/carve.ts";
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
    assert.deepEqual(Object.keys(report), [
      "owner",
      "erasedAt",
      "secrets",
      "versions",
      "scopeKeys",
      "kids",
      "liveDatabase",
      "scrub",
      "backups",
    ]);
    const agedOutAt = new Date(Date.parse(report.erasedAt) + 30 * 86_400_000).toISOString();
    assert.deepEqual(report, {
      owner: "project/json",
      erasedAt: report.erasedAt,
      secrets: 2,
      versions: 3,
      scopeKeys: 1,
      kids: ["primary"],
      liveDatabase: report.liveDatabase,
      scrub: { complete: true, detail: "SQLite: VACUUM rewrote the database file; the WAL was checkpointed and truncated to 0 bytes" },
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

describe("coffer erase leaves nothing in the live SQLite files (carving main file and WAL as raw bytes)", () => {
  let cli: CliHarness;
  const long = (tag: string, n: number): string => `${tag}-`.repeat(Math.ceil(n / (tag.length + 1))).slice(0, n);
  /** Versions (one large enough to overflow a page), a rekey (old wrapped DEKs and scope key rewritten), more versions. */
  const seed = (owner: string): OwnerMaterial[] => {
    const set = (key: string, value: string): void => {
      const r = cli.run(["secrets", "set", owner, key, "--stdin"], { input: value });
      assert.equal(r.status, 0, r.stderr);
    };
    set("SMALL", long("small-erase-canary-1", 48));
    set("SMALL", long("small-erase-canary-2", 48));
    set("LARGE", long("large-erase-canary", 9000));
    const id = owner.split("/")[1] ?? "";
    const beforeRekey = ownerMaterial(cli.home, id);
    assert.equal(cli.run(["keys", "rekey", owner]).status, 0);
    set("SMALL", long("small-erase-canary-3", 48));
    return [beforeRekey, ownerMaterial(cli.home, id)];
  };
  const all = (m: readonly OwnerMaterial[]): OwnerMaterial => ({
    blobs: m.flatMap((x) => x.blobs),
    scopeKeys: m.flatMap((x) => x.scopeKeys),
  });
  /** The owner deleted the old way by the first test; its bytes stay in the files until an erase scrubs them. */
  let doomed: OwnerMaterial = { blobs: [], scopeKeys: [] };
  /** The owner the second test erases with coffer erase. */
  let erased: OwnerMaterial = { blobs: [], scopeKeys: [] };
  const masterKey = (): string => readFileSync(join(cli.home, "secrets", "master-key"), "utf8").trim();

  before(() => {
    cli = new CliHarness();
  });
  after(() => {
    cli.cleanup();
  });

  it("finds the erased owner's bytes in the files when rows are deleted the old way (secure_delete off, no VACUUM): the carver works", () => {
    const kept = seed("project/kept");
    doomed = all(seed("project/doomed"));
    erased = all(seed("project/erased"));
    assert.ok(doomed.blobs.length >= 8 && doomed.scopeKeys.length === 2);
    // What erase did before the fix: the same deletes, on a connection without secure_delete.
    const db = rawDb(cli.home);
    try {
      assert.equal(db.pragma("secure_delete", { simple: true }), 0);
      db.transaction(() => {
        db.prepare("DELETE FROM secret_versions WHERE secret_id IN (SELECT id FROM secrets WHERE owner_id = 'doomed')").run();
        db.prepare("DELETE FROM secrets WHERE owner_id = 'doomed'").run();
        db.prepare("DELETE FROM scope_keys WHERE owner_id = 'doomed'").run();
      })();
      const files = sqliteFiles(cli.home);
      assert.ok(files.some((f) => f.name === "coffer.db-wal"));
      assert.notDeepEqual(carve(files, doomed.blobs), []);
      assert.ok(unwrappableScopeKeys(files, masterKey(), doomed.scopeKeys).length > 0, "the master key unwraps a deleted scope key");
    } finally {
      db.close();
    }
    // The other owner is untouched and still readable.
    assert.notDeepEqual(carve(sqliteFiles(cli.home), all(kept).blobs), []);
  });

  it("after coffer erase, no 16-byte run of the owner's wrapped scope keys, wrapped DEKs or ciphertexts is in coffer.db or its WAL, and nothing unwraps", () => {
    // A second connection stays open, as a server's would.
    const watcher = rawDb(cli.home);
    try {
      watcher.prepare("SELECT count(*) FROM secrets").get();
      assert.notDeepEqual(carve(sqliteFiles(cli.home), doomed.blobs), [], "the first test left project/doomed's bytes behind");
      const r = cli.run(["erase", "project/erased", "--yes", "--json"]);
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout) as { liveDatabase: string | null; scrub: { complete: boolean; detail: string } };
      assert.equal(report.scrub.complete, true, report.scrub.detail);
      assert.equal(typeof report.liveDatabase, "string");
      const files = sqliteFiles(cli.home);
      // The WAL may be gone (the last writer's close checkpoints and deletes it) or empty: whatever is there is searched.
      assert.ok(files.every((f) => f.name !== "coffer.db-wal" || f.bytes.length === 0));
      assert.deepEqual(carve(files, erased.blobs), []);
      assert.deepEqual(unwrappableScopeKeys(files, masterKey(), erased.scopeKeys), []);
      // What deletes made before the fix left behind (project/doomed) is scrubbed too.
      assert.deepEqual(carve(files, doomed.blobs), []);
      assert.deepEqual(unwrappableScopeKeys(files, masterKey(), doomed.scopeKeys), []);
      assert.doesNotMatch(Buffer.concat(files.map((f) => f.bytes)).toString("latin1"), /erase-canary/);
    } finally {
      watcher.close();
    }
  });

  it("keeps other owners readable and writable after the scrub, and says so in the human report", () => {
    const r = cli.run(["erase", "project/kept", "--yes"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /live database: unrecoverable since /);
    for (const owner of ["doomed", "kept", "erased"]) assert.deepEqual(ownerMaterial(cli.home, owner).blobs, [], owner);
    const set = cli.run(["secrets", "set", "project/after", "K", "--stdin"], { input: "still-works" });
    assert.equal(set.status, 0, set.stderr);
    assert.equal(cli.run(["secrets", "get", "project/after", "K", "--reveal", "--yes", "--reason", "test"]).stdout.trim(), "still-works");
  });
});
