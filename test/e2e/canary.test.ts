import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";

/** A value that must never appear anywhere but the stdout of an explicit reveal. */
const CANARY = "CANARY-7f3a9c1e-do-not-leak";

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

describe("a planted canary secret", () => {
  let cli: CliHarness;
  let revealed = "";
  before(() => {
    cli = new CliHarness({ COFFER_LOG_LEVEL: "trace" });
    const runs: string[][] = [
      ["secrets", "set", "project/canary", "CANARY_KEY", "--stdin", "--meta", "kind=canary"],
      ["secrets", "get", "project/canary", "CANARY_KEY"],
      ["secrets", "get", "project/canary", "CANARY_KEY", "--json"],
      ["secrets", "list", "--meta"],
      ["secrets", "list", "--json"],
      ["secrets", "history", "project/canary", "CANARY_KEY", "--json"],
      ["secrets", "rotate", "project/canary", "CANARY_KEY"],
      ["secrets", "set", "project/canary", "CANARY_KEY", "--stdin", "--expect-version", "9"],
      ["secrets", "set", "project/canary", "bad key", "--stdin"],
      ["secrets", "get", "project/canary", "CANARY_KEY", "--reveal"],
      ["secrets", "get", "project/canary", "CANARY_KEY", "--reveal", "--yes"],
      ["run", "--owner", "project/canary", "--", process.execPath, "-e", "process.exit(process.env.CANARY_KEY ? 0 : 1)"],
      ["run", "--owner", "project/canary", "--", "no-such-command-coffer"],
      ["audit", "list", "--json"],
      ["audit", "verify", "--json"],
    ];
    for (const args of runs) {
      const r = cli.run(args, { input: `${CANARY}\n` });
      assert.notEqual(r.status, null);
    }
    const secondKey = cli.run(["secrets", "set", "project/canary", "CANARY_KEY", "--stdin"], { input: `${CANARY}\n` });
    assert.equal(secondKey.status, 0);
    const r = cli.run(["secrets", "get", "project/canary", "CANARY_KEY", "--reveal", "--yes", "--reason", "canary check"]);
    revealed = r.stdout;
    cli.transcript.pop();
    cli.transcript.pop();
    cli.transcript.push(r.stderr);
    const tampered = join(cli.home, "secrets", "master-key");
    writeFileSync(tampered, `${Buffer.alloc(32, 1).toString("base64")}\n`, { mode: 0o600 });
    cli.run(["secrets", "get", "project/canary", "CANARY_KEY", "--reveal", "--yes", "--reason", "wrong key"]);
  });
  after(() => {
    cli.cleanup();
  });

  it("is revealed on purpose", () => {
    assert.equal(revealed, CANARY);
  });

  it("never appears in any stdout or stderr (trace-level logs included) except the reveal", () => {
    const all = cli.allOutput();
    assert.ok(all.length > 1000, "the scenarios produced output");
    assert.match(all, /"msg":"secret revealed"/, "trace-level JSON logs were on");
    assert.ok(!all.includes(CANARY));
  });

  it("never appears in the database files or anywhere else in the data directory", () => {
    for (const file of filesUnder(cli.home)) {
      const bytes = readFileSync(file);
      assert.equal(bytes.includes(Buffer.from(CANARY)), false, file);
      assert.equal(bytes.includes(Buffer.from(CANARY, "utf16le")), false, file);
    }
  });
});
