import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";
import { rawDb } from "../fixtures/raw-db.ts";

describe("coffer keys rekey", () => {
  let cli: CliHarness;
  before(() => {
    cli = new CliHarness();
    cli.run(["secrets", "set", "project/r", "K", "--stdin"], { input: "one" });
    cli.run(["secrets", "set", "project/r", "K", "--stdin"], { input: "two" });
  });
  after(() => {
    cli.cleanup();
  });

  it("rewraps the data keys only: value ciphertexts stay byte for byte, values still reveal", () => {
    const read = () => {
      const db = rawDb(cli.home);
      try {
        return db.prepare("SELECT version, ciphertext, wrapped_dek, scope_key_id FROM secret_versions ORDER BY version").all() as {
          version: number;
          ciphertext: Buffer;
          wrapped_dek: Buffer;
          scope_key_id: string;
        }[];
      } finally {
        db.close();
      }
    };
    const before = read();
    const r = cli.run(["keys", "rekey", "project/r", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { rewrapped: number; scopeKeyId: string };
    assert.equal(report.rewrapped, 2);
    const after = read();
    for (const [i, b] of before.entries()) {
      const a = after[i]!;
      assert.deepEqual(a.ciphertext, b.ciphertext);
      assert.notDeepEqual(a.wrapped_dek, b.wrapped_dek);
      assert.equal(a.scope_key_id, report.scopeKeyId);
    }
    assert.equal(cli.run(["secrets", "get", "project/r", "K", "--version", "1", "--reveal", "--yes", "--reason", "r"]).stdout, "one");
    assert.equal(cli.run(["audit", "verify"]).status, 0);
  });

  it("reports an unknown owner as not found, exit 3", () => {
    const r = cli.run(["keys", "rekey", "project/none"]);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /^error\[NOT_FOUND\]: project\/none has no scope key/);
  });
});
