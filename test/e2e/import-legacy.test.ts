import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";
import { rawDb } from "../fixtures/raw-db.ts";

/** SOURCE: the seed system's portable strings (AES-256-GCM, 12-byte iv, 16-byte tag, base64, no AAD). */
function legacySeal(key: Buffer, plaintext: string, kid: string | null): string {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv);
  const ct = Buffer.concat([c.update(plaintext, "utf8"), c.final()]);
  const body = `${iv.toString("base64")}:${c.getAuthTag().toString("base64")}:${ct.toString("base64")}`;
  return kid === null ? `v1:${body}` : `v2:${kid}:${body}`;
}

const CANARY = `CANARY-${randomBytes(8).toString("hex")}`;
const MASTER = randomBytes(32);
const OLD = randomBytes(32);

describe("coffer import --legacy (real child processes, SQLite)", () => {
  let cli: CliHarness;
  let files: { key: string; ring: string; wrongKey: string };
  /** Every legacy ciphertext written to a listing: none may be printed either. */
  const ciphertexts: string[] = [];
  const seal = (key: Buffer, plaintext: string, kid: string | null): string => {
    const s = legacySeal(key, plaintext, kid);
    ciphertexts.push(s);
    return s;
  };
  const listing = (name: string, text: string): string => {
    const path = join(cli.home, name);
    writeFileSync(path, text);
    return path;
  };
  const keyArgs = (): string[] => ["--legacy-key-file", files.key, "--legacy-keyring", files.ring];
  const secretCount = (): number => {
    const db = rawDb(cli.home);
    try {
      return (db.prepare("SELECT count(*) AS n FROM secrets").get() as { n: number }).n;
    } finally {
      db.close();
    }
  };

  before(() => {
    cli = new CliHarness();
    files = { key: join(cli.home, "legacy.key"), ring: join(cli.home, "legacy-keyring.json"), wrongKey: join(cli.home, "wrong.key") };
    writeFileSync(files.key, `${MASTER.toString("base64")}\n`, { mode: 0o600 });
    writeFileSync(files.wrongKey, randomBytes(32).toString("base64"), { mode: 0o600 });
    writeFileSync(files.ring, JSON.stringify({ active: "old", keys: { old: OLD.toString("base64") } }), { mode: 0o600 });
  });
  after(() => {
    cli.cleanup();
  });

  it("imports a mixed v1/v2 CSV listing, prints a summary without values, and the values reveal", () => {
    const csv = listing(
      "export.csv",
      `owner,key,value\nproject/acme,DB_PASSWORD,${seal(MASTER, CANARY, null)}\nproject/acme,API_KEY,"${seal(OLD, `${CANARY}-2`, "old")}"\nuser/bob,PLAIN,${seal(OLD, "visible", "old")}\n`,
    );
    const r = cli.run(["import", "--legacy", csv, ...keyArgs()]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^OWNER\s+KEY\s+VERSION\s+LEGACY\s+LINE\n/);
    assert.match(r.stdout, /project\/acme\s+API_KEY\s+v1\s+v2:old\s+3\n/);
    assert.match(
      r.stdout,
      /imported 3 secret\(s\) for 2 owner\(s\), 0 of them new versions of existing secrets; legacy formats: v1 1, v2 2 \(old 2\)\n$/,
    );
    const shown = cli.run(["secrets", "get", "user/bob", "PLAIN", "--reveal", "--reason", "e2e check", "--yes"]);
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /visible/);
  });

  it("imports a JSON listing as new versions, with --json output, and audits each secret", () => {
    const json = listing(
      "export.json",
      JSON.stringify([{ owner: "project/acme", key: "DB_PASSWORD", value: seal(MASTER, `${CANARY}-v2`, null) }]),
    );
    const r = cli.run(["import", "--legacy", json, "--legacy-key-file", files.key, "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { imported: number; existing: number; secrets: { version: number; existed: boolean }[] };
    assert.deepEqual([out.imported, out.existing, out.secrets[0]?.version, out.secrets[0]?.existed], [1, 1, 2, true]);
    const audit = cli.run(["audit", "list", "--action", "secret.import", "--json"]);
    assert.equal(audit.status, 0, audit.stderr);
    const events = JSON.parse(audit.stdout) as { key: string; reason: string; outcome: string }[];
    assert.equal(events.filter((e) => e.outcome === "success" && e.reason === "legacy import").length, 4);
  });

  it("verifies a dry run and writes nothing", () => {
    const csv = listing("dry.csv", `owner,key,value\nproject/dry,K,${seal(MASTER, CANARY, null)}\n`);
    const before = secretCount();
    const r = cli.run(["import", "--legacy", csv, ...keyArgs(), "--dry-run"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^dry run: verified 1 secret\(s\) .*; nothing was written\n$/m);
    assert.equal(secretCount(), before);
  });

  it("aborts with the line number, exit 4 and nothing written when a value does not decrypt", () => {
    const csv = listing(
      "wrong.csv",
      `owner,key,value\nproject/new,A,${seal(MASTER, CANARY, null)}\nproject/new,B,${seal(randomBytes(32), CANARY, null)}\n`,
    );
    const before = secretCount();
    const r = cli.run(["import", "--legacy", csv, ...keyArgs()]);
    assert.equal(r.status, 4);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^error\[DECRYPT_FAILED\]: line 3: cannot decrypt a v1 portable value: wrong key or tampered data\n$/);
    assert.equal(secretCount(), before);
    const wrongKey = cli.run(["import", "--legacy", csv, "--legacy-key-file", files.wrongKey]);
    assert.match(wrongKey.stderr, /^error\[DECRYPT_FAILED\]: line 2: /);
  });

  it("names the line of a malformed value or a bad owner (exit 4 and 2)", () => {
    const csv = listing("bad.csv", `owner,key,value\nproject/x,A,${seal(MASTER, CANARY, null)}\nproject/x,B,v2:old:AAAA\n`);
    const malformed = cli.run(["import", "--legacy", csv, ...keyArgs()]);
    assert.equal(malformed.status, 4);
    assert.match(malformed.stderr, /^error\[CIPHERTEXT_MALFORMED\]: line 3: portable value: /);
    const owner = listing("owner.csv", `owner,key,value\nteam/x,A,${seal(MASTER, CANARY, null)}\n`);
    const bad = cli.run(["import", "--legacy", owner, ...keyArgs()]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^error\[INVALID_INPUT\]: line 2: owner: /);
  });

  it("never prints a planted plaintext or a legacy ciphertext, nor stores the plaintext in the clear", () => {
    const audit = cli.run(["audit", "list", "--json", "--limit", "1000"]);
    assert.equal(audit.status, 0, audit.stderr);
    const output = cli.allOutput();
    assert.ok(!output.includes(CANARY), "canary in CLI output or audit list");
    for (const c of ciphertexts) assert.ok(!output.includes(c), "a legacy ciphertext was printed");
    for (const f of readdirSync(cli.home).filter((n) => n.startsWith("coffer.db"))) {
      assert.ok(!readFileSync(join(cli.home, f)).includes(CANARY), `canary in ${f}`);
    }
  });
});
