import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";
import { dropAuditTriggers, rawDb } from "../fixtures/raw-db.ts";

const ESC = "\x1b";

describe("control characters on the operator's terminal (real CLI, real SQLite file)", () => {
  let cli: CliHarness;

  before(() => {
    cli = new CliHarness();
    const r = cli.run(["secrets", "set", "project/term", "K", "--stdin", "--meta", "env=prod"], { input: "v\n" });
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => {
    cli.cleanup();
  });

  it("refuses metadata with an escape sequence or a newline (exit 2, INVALID_INPUT naming meta.<key>), writing nothing", () => {
    for (const bad of [`note=x${ESC}[2Jy`, "note=ok\nforged line", "note=a\u202Eb"]) {
      const r = cli.run(["secrets", "set", "project/term", "M", "--stdin", "--meta", bad], { input: "v\n" });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^error\[INVALID_INPUT\]: meta\.note: must not contain control characters/);
      assert.ok(!r.stderr.includes(ESC));
    }
    const get = cli.run(["secrets", "get", "project/term", "M"]);
    assert.notEqual(get.status, 0);
  });

  it("refuses a reveal reason with a newline, or made only of zero-width characters (exit 2)", () => {
    for (const reason of ["because\n43  forged  event", "\u200b\u200d\ufeff"]) {
      const r = cli.run(["secrets", "get", "project/term", "K", "--reveal", "--yes", "--reason", reason]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /^error\[INVALID_INPUT\]: reason: /);
      assert.equal(r.stdout, "");
    }
  });

  it("prints rows planted by a writer of the database file escaped: metadata in list --meta and get, reasons in audit list", () => {
    const ok = cli.run(["secrets", "get", "project/term", "K", "--reveal", "--yes", "--reason", "planted-reason-marker"]);
    assert.equal(ok.status, 0, ok.stderr);
    const db = rawDb(cli.home);
    try {
      dropAuditTriggers(db);
      db.prepare("UPDATE secrets SET meta = ? WHERE key_name = 'K'").run(JSON.stringify({ env: `prod${ESC}[2J${ESC}[H`, note: "a\nb" }));
      db.prepare("UPDATE audit_events SET reason = ? WHERE reason = 'planted-reason-marker'").run(
        `fine\n99  2026-01-01T00:00:00.000Z  local:root  secret.reveal ${ESC}]8;;https://evil.invalid${ESC}\\`,
      );
    } finally {
      db.close();
    }
    const list = cli.run(["secrets", "list", "project/term", "--meta"]);
    const get = cli.run(["secrets", "get", "project/term", "K"]);
    const audit = cli.run(["audit", "list"]);
    for (const [name, r] of [
      ["list", list],
      ["audit", audit],
    ] as const) {
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      assert.ok(!r.stdout.includes(ESC), `${name} printed a raw escape`);
    }
    // A single read checks the row's state MAC first: the planted metadata is refused, not printed.
    assert.equal(get.status, 4, get.stderr);
    assert.match(get.stderr, /^error\[STATE_TAMPERED\]: the stored state of project\/term K does not verify/);
    assert.ok(!get.stdout.includes(ESC) && !get.stderr.includes(ESC));
    assert.match(list.stdout, /env=prod\\u\{1b\}\[2J\\u\{1b\}\[H,note=a\\nb/);
    assert.match(audit.stdout, /fine\\n99 {2}2026-01-01T00:00:00\.000Z {2}local:root {2}secret\.reveal \\u\{1b\}\]8;;/);
    assert.ok(!audit.stdout.split("\n").some((l) => l.startsWith("99 ")), "a forged audit line appeared");
    // JSON output stays JSON: the characters arrive escaped by JSON and decode to what is stored.
    const json = cli.run(["secrets", "list", "project/term", "--meta", "--json"]);
    assert.ok(!json.stdout.includes(ESC));
    const items = JSON.parse(json.stdout) as { meta: Record<string, string> }[];
    assert.equal(items[0]?.meta["note"], "a\nb");
  });
});
