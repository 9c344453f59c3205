import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliHarness, type CliResult } from "../fixtures/cli.ts";
import { call, removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

const CANARY = "CANARY-bundle-7f3a91-do-not-leak";
const B64 = Buffer.from(CANARY).toString("base64");
const TRICKY = `a "quoted" $HOME value='x' \\t`;
const ENV = { COFFER_KEK_PROVIDER: "file" };

function keygen(dir: string): string {
  const key = join(dir, "key.txt");
  const r = spawnSync("age-keygen", ["-o", key], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return /age1[0-9a-z]+/.exec(r.stderr)?.[0] ?? "";
}

const ok = (r: CliResult, what: string): CliResult => {
  assert.equal(r.status, 0, `${what}: ${r.stderr}`);
  return r;
};

function seed(h: CliHarness): void {
  ok(h.run(["secrets", "set", "project/acme", "DB_PASSWORD", "--stdin", "--meta", "env=prod"], { input: `${CANARY}\n` }), "set");
  ok(h.run(["secrets", "set", "project/acme", "TRICKY", "--stdin"], { input: `${TRICKY}\n` }), "set");
  ok(h.run(["secrets", "set", "project/acme", "API_KEY", "--stdin"], { input: "k-1\n" }), "set");
}

const reveal = (h: CliHarness, owner: string, key: string): string =>
  ok(h.run(["secrets", "get", owner, key, "--reveal", "--yes", "--reason", "test"]), `reveal ${key}`).stdout;

const keys = (h: CliHarness, owner: string): string[] =>
  (JSON.parse(ok(h.run(["secrets", "list", owner, "--json"]), "list").stdout) as { key: string }[]).map((v) => v.key).sort();

describe("coffer secrets import / export (real CLI processes)", () => {
  let a: CliHarness;
  let b: CliHarness;
  let recipient: string;
  before(() => {
    a = new CliHarness(ENV);
    b = new CliHarness(ENV);
    recipient = keygen(b.home);
    seed(a);
  });
  after(() => {
    a.cleanup();
    b.cleanup();
  });

  it("exports a bundle to an age recipient that imports into another data directory, values and metadata intact", () => {
    const out = join(a.home, "acme.age");
    ok(a.run(["secrets", "export", "project/acme", "--bundle", "--recipient", recipient, "--output", out]), "export");
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const bundle = readFileSync(out, "utf8");
    assert.match(bundle, /^-----BEGIN AGE ENCRYPTED FILE-----\n/);
    assert.ok(!bundle.includes(CANARY) && !bundle.includes(B64), "no value in clear in the bundle");
    // Debian's age CLI opens it: a JSON document with a manifest and base64 values.
    const opened = spawnSync("age", ["-d", "-i", join(b.home, "key.txt"), out], { encoding: "utf8" });
    assert.equal(opened.status, 0, opened.stderr);
    const doc = JSON.parse(opened.stdout) as {
      manifest: { owner: string; count: number; keys: string[] };
      entries: { key: string; value: string }[];
    };
    assert.deepEqual(doc.manifest.keys, ["API_KEY", "DB_PASSWORD", "TRICKY"]);
    assert.equal(doc.manifest.count, 3);
    assert.equal(doc.entries.find((e) => e.key === "DB_PASSWORD")?.value, B64);
    const imp = ok(b.run(["secrets", "import", "--file", out, "--identity", join(b.home, "key.txt"), "--json"]), "import");
    const summary = JSON.parse(imp.stdout) as { owner: string; imported: number };
    assert.deepEqual([summary.owner, summary.imported], ["project/acme", 3]);
    assert.equal(reveal(b, "project/acme", "DB_PASSWORD"), CANARY);
    assert.equal(reveal(b, "project/acme", "TRICKY"), TRICKY);
    const meta = JSON.parse(ok(b.run(["secrets", "get", "project/acme", "DB_PASSWORD", "--json"]), "get").stdout) as { meta: object };
    assert.deepEqual(meta.meta, { env: "prod" });
  });

  it("audits one reveal per exported secret with the reason, and one import event per imported secret", () => {
    const ra = JSON.parse(ok(a.run(["audit", "list", "--action", "secret.reveal", "--json"]), "audit").stdout) as {
      key: string;
      reason: string;
      details: { via?: string };
    }[];
    const exported = ra.filter((e) => e.details.via === "export");
    assert.deepEqual(exported.map((e) => e.key).sort(), ["API_KEY", "DB_PASSWORD", "TRICKY"]);
    assert.ok(exported.every((e) => e.reason === "coffer secrets export"));
    const rb = JSON.parse(ok(b.run(["audit", "list", "--action", "secret.import", "--json"]), "audit").stdout) as { key: string }[];
    assert.deepEqual(rb.map((e) => e.key).sort(), ["API_KEY", "DB_PASSWORD", "TRICKY"]);
  });

  it("round-trips a passphrase bundle on stdout; a wrong passphrase opens nothing and writes nothing", () => {
    const env = { COFFER_BUNDLE_PASSPHRASE: "correct horse battery staple" };
    const exp = ok(
      a.run(["secrets", "export", "project/acme", "--prefix", "DB_", "--bundle", "--passphrase", "--reason", "move"], { env }),
      "export",
    );
    assert.ok(!exp.stdout.includes(CANARY) && !exp.stdout.includes(B64));
    const file = join(b.home, "pass.age");
    writeFileSync(file, exp.stdout);
    const wrong = b.run(["secrets", "import", "--file", file, "--owner", "project/pp"], { env: { COFFER_BUNDLE_PASSPHRASE: "wrong" } });
    assert.equal(wrong.status, 4, wrong.stderr);
    assert.match(wrong.stderr, /DECRYPT_FAILED/);
    assert.deepEqual(keys(b, "project/pp"), []);
    ok(b.run(["secrets", "import", "--file", file, "--owner", "project/pp"], { env }), "import");
    assert.deepEqual(keys(b, "project/pp"), ["DB_PASSWORD"]);
    assert.equal(reveal(b, "project/pp", "DB_PASSWORD"), CANARY);
  });

  it("refuses plaintext input without --allow-plaintext, and writes nothing", () => {
    const file = join(b.home, "plain.env");
    writeFileSync(file, "PLAIN=1\n");
    const r = b.run(["secrets", "import", "--file", file, "--owner", "project/plain"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /PLAINTEXT_REFUSED/);
    assert.deepEqual(keys(b, "project/plain"), []);
    ok(b.run(["secrets", "import", "--file", file, "--owner", "project/plain", "--allow-plaintext"]), "allowed");
    assert.deepEqual(keys(b, "project/plain"), ["PLAIN"]);
  });

  it("reports a bad line by its number (dotenv) or its key (JSON, YAML) and writes nothing", () => {
    const cases: [string, string, RegExp][] = [
      ["bad.env", "GOOD=1\n# comment\nBAD KEY=2\n", /line 3: key: /],
      ["syntax.env", "GOOD=1\n\nno equals sign\n", /line 3: expected KEY=VALUE/],
      ["bad.json", '{"GOOD":"1","9BAD":"2"}', /key "9BAD": key: /],
      ["nested.yaml", "GOOD: 1\nNESTED:\n  a: 1\n", /line 2 \(key "NESTED"\): value must be a scalar/],
    ];
    for (const [name, text, want] of cases) {
      const file = join(b.home, name);
      writeFileSync(file, text);
      const r = b.run(["secrets", "import", "--file", file, "--owner", "project/bad", "--allow-plaintext"]);
      assert.equal(r.status, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, want, name);
    }
    assert.deepEqual(keys(b, "project/bad"), []);
  });

  it("keeps dotenv values byte for byte: no $ expansion, no quote stripping", () => {
    const file = join(b.home, "bytes.env");
    writeFileSync(file, `RAW=${TRICKY}\nEMPTY=\n`);
    ok(b.run(["secrets", "import", "--file", file, "--owner", "project/bytes", "--allow-plaintext"]), "import");
    assert.equal(reveal(b, "project/bytes", "RAW"), TRICKY);
  });

  it("--replace leaves exactly the given keys; a bad file leaves the owner unchanged", () => {
    for (const k of ["X", "Y", "Z"]) ok(b.run(["secrets", "set", "project/rep", k, "--stdin"], { input: `${k}\n` }), "set");
    const bad = join(b.home, "rep-bad.env");
    writeFileSync(bad, "X=new\nW=w\nY=ok\n-oops=1\n");
    const r = b.run(["secrets", "import", "--file", bad, "--owner", "project/rep", "--replace", "--allow-plaintext"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /line 4: key: /);
    assert.deepEqual(keys(b, "project/rep"), ["X", "Y", "Z"]);
    assert.equal(reveal(b, "project/rep", "X"), "X");
    const good = join(b.home, "rep.env");
    writeFileSync(good, "X=new\nW=w\n");
    const out = ok(b.run(["secrets", "import", "--file", good, "--owner", "project/rep", "--replace", "--allow-plaintext"]), "replace");
    assert.match(out.stdout, /deleted 2 not in the input/);
    assert.deepEqual(keys(b, "project/rep"), ["W", "X"]);
    assert.equal(reveal(b, "project/rep", "X"), "new");
    const unset = JSON.parse(
      ok(b.run(["audit", "list", "--action", "secret.unset", "--owner", "project/rep", "--json"]), "audit").stdout,
    ) as {
      key: string;
    }[];
    assert.deepEqual(unset.map((e) => e.key).sort(), ["Y", "Z"]);
  });

  it("imports a SOPS file written by coffer file encrypt", () => {
    const plain = join(b.home, "app.yaml");
    writeFileSync(plain, `DB_URL: postgres://x\nPORT: "8080"\n`);
    const enc = ok(b.run(["file", "encrypt", plain, "--age", recipient]), "encrypt");
    const file = join(b.home, "app.enc.yaml");
    writeFileSync(file, enc.stdout);
    ok(b.run(["secrets", "import", "--file", file, "--owner", "project/sops", "--identity", join(b.home, "key.txt")]), "import");
    assert.deepEqual(keys(b, "project/sops"), ["DB_URL", "PORT"]);
    assert.equal(reveal(b, "project/sops", "PORT"), "8080");
  });

  it("prints metadata only without --bundle", () => {
    const r = ok(a.run(["secrets", "export", "project/acme", "--json"]), "export");
    const doc = JSON.parse(r.stdout) as { count: number; secrets: { value: string }[] };
    assert.equal(doc.count, 3);
    assert.ok(doc.secrets.every((s) => s.value === "********"));
  });

  it("never prints the canary outside explicit reveals", () => {
    const all = [...a.transcript, ...b.transcript].filter((t) => t !== CANARY);
    for (const t of all) assert.ok(!t.includes(CANARY) && !t.includes(B64), "canary in output");
  });
});

describe("coffer secrets import / export in remote mode (real server)", () => {
  let srv: ServerHandle;
  let local: CliHarness;
  let remote: CliHarness;
  let recipient: string;
  before(async () => {
    srv = await startServer();
    const t = await call(srv.url, "POST", "/v1/tokens", {
      token: srv.adminToken,
      body: { name: "cli", scopes: ["secrets:read", "secrets:write", "secrets:reveal", "audit:read"], owners: ["project/*"] },
    });
    local = new CliHarness(ENV);
    remote = new CliHarness({ COFFER_ADDR: srv.url, COFFER_TOKEN: (t.body as { token: string }).token });
    recipient = keygen(local.home);
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
    local.cleanup();
    remote.cleanup();
  });

  it("prints the same as local mode for imports, refusals and bad lines", () => {
    const file = join(local.home, "r.env");
    writeFileSync(file, `DB_PASSWORD=${CANARY}\nAPI=k\n`);
    const bad = join(local.home, "bad.env");
    writeFileSync(bad, "A=1\nB C=2\n");
    for (const args of [
      ["secrets", "import", "--file", file, "--owner", "project/acme"],
      ["secrets", "import", "--file", file, "--owner", "project/acme", "--allow-plaintext"],
      ["secrets", "import", "--file", bad, "--owner", "project/acme", "--allow-plaintext", "--replace"],
      ["secrets", "import", "--file", file, "--owner", "project/acme", "--allow-plaintext", "--replace", "--json"],
    ]) {
      const l = local.run(args);
      const r = remote.run(args);
      assert.equal(r.status, l.status, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, l.stdout, args.join(" "));
      assert.equal(r.stderr, l.stderr, args.join(" "));
    }
  });

  it("exports a bundle from the server that imports locally, and the server output never holds the canary", async () => {
    const exp = ok(remote.run(["secrets", "export", "project/acme", "--bundle", "--recipient", recipient]), "export");
    assert.match(exp.stderr, /exported 2 secret\(s\) of project\/acme/);
    const file = join(local.home, "srv.age");
    writeFileSync(file, exp.stdout);
    ok(local.run(["secrets", "import", "--file", file, "--owner", "project/copy", "--identity", join(local.home, "key.txt")]), "import");
    assert.equal(reveal(local, "project/copy", "DB_PASSWORD"), CANARY);
    const audit = await call(srv.url, "GET", "/v1/audit?action=secret.reveal&limit=100", { token: srv.adminToken });
    const items = (audit.body as { items: { details: { via?: string } }[] }).items;
    assert.equal(items.filter((e) => e.details.via === "export").length, 2);
    assert.ok(!srv.output().includes(CANARY) && !srv.output().includes(B64));
    for (const t of remote.transcript) assert.ok(!t.includes(CANARY) && !t.includes(B64));
  });
});
