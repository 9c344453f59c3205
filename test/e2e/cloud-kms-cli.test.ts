/**
 * The CLI (real child processes) against the key-service protocol fakes, each run as its own
 * process on 127.0.0.1 (so a CLI process can be SIGKILLed while the fake keeps its state):
 * rotation to and from Google Cloud KMS and Azure Key Vault with `keys rotate --to-kid`, rekey,
 * the plain refusal to mint a cloud key, and a Transit mint killed after each step. Every
 * process started here is killed by its pid.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliHarness, ROOT } from "../fixtures/cli.ts";

const CRASH = join(ROOT, "test", "fixtures", "crash-at.ts");
type Status = { active: string; keys: { kid: string; provider: string; scopeKeys: number }[] };

/** Starts a fake as a script and returns the JSON line it prints. */
async function startFake(script: string): Promise<{ child: ChildProcess; info: Record<string, string> }> {
  const child = spawn(process.execPath, [join(ROOT, "test", "fixtures", script)], { stdio: ["ignore", "pipe", "ignore"] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      reject(new Error(`${script} did not start within 30 s`));
    }, 30_000);
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.on("exit", () => {
      clearTimeout(timer);
      reject(new Error(`${script} exited early`));
    });
  });
  return { child, info: JSON.parse(line) as Record<string, string> };
}

function stop(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null) child.kill("SIGTERM");
}

function status(cli: CliHarness): Status {
  const r = cli.run(["keys", "status", "--json"]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Status;
}

function seed(cli: CliHarness, n: number): void {
  for (let i = 0; i < n; i++) {
    const r = cli.run(["secrets", "set", `project/p${String(i)}`, "K", "--stdin"], { input: `value-${String(i)}` });
    assert.equal(r.status, 0, r.stderr);
  }
}

function revealAll(cli: CliHarness, n: number): void {
  for (let i = 0; i < n; i++) {
    const r = cli.run(["secrets", "get", `project/p${String(i)}`, "K", "--reveal", "--yes", "--reason", "check"]);
    assert.equal(r.stdout, `value-${String(i)}`, r.stderr);
  }
}

describe("coffer keys rotate --to-kid with Google Cloud KMS and Azure Key Vault (protocol fakes in their own processes)", () => {
  const fakes: ChildProcess[] = [];
  const clis: CliHarness[] = [];
  let gcp: Record<string, string> = {};
  let azure: Record<string, string> = {};
  before(async () => {
    const g = await startFake("fake-gcp-kms.ts");
    const a = await startFake("fake-azure-key-vault.ts");
    fakes.push(g.child, a.child);
    [gcp, azure] = [g.info, a.info];
  });
  after(() => {
    for (const f of fakes) stop(f);
    for (const c of clis) c.cleanup();
  });

  const clouds = () => [
    {
      name: "gcp-kms",
      service: "Google Cloud KMS",
      entry: { provider: "gcp-kms", name: gcp["key"] ?? "", endpoint: gcp["endpoint"] ?? "" },
      env: { COFFER_GCP_ACCESS_TOKEN: gcp["token"] ?? "" },
      only: {
        COFFER_GCP_KMS_KEY: gcp["key"] ?? "",
        COFFER_GCP_KMS_ENDPOINT: gcp["endpoint"] ?? "",
        COFFER_GCP_ACCESS_TOKEN: gcp["token"] ?? "",
      },
    },
    {
      name: "azure-key-vault",
      service: "Azure Key Vault",
      entry: { provider: "azure-key-vault", keyId: azure["keyId"] ?? "" },
      env: { COFFER_AZURE_ACCESS_TOKEN: azure["token"] ?? "", COFFER_AZURE_CA_FILE: azure["caFile"] ?? "" },
      only: {
        COFFER_AZURE_KEY_ID: azure["keyId"] ?? "",
        COFFER_AZURE_ACCESS_TOKEN: azure["token"] ?? "",
        COFFER_AZURE_CA_FILE: azure["caFile"] ?? "",
      },
    },
  ];

  for (const which of [0, 1]) {
    it(`rotates from a local key to ${which === 0 ? "gcp-kms" : "azure-key-vault"} and back; rekeys; refuses to mint a cloud key`, () => {
      const cloud = clouds()[which];
      assert.ok(cloud !== undefined);
      const cli = new CliHarness({});
      clis.push(cli);
      const keyring = join(cli.home, "keyring.json");
      const local = randomBytes(32).toString("base64");
      writeFileSync(keyring, JSON.stringify({ active: "local", keys: { local } }), { mode: 0o600 });
      const env = { COFFER_KEYRING_FILE: keyring, ...cloud.env };
      Object.assign(cli.env, env);
      seed(cli, 3);
      writeFileSync(keyring, JSON.stringify({ active: "local", keys: { local, cloud: cloud.entry } }), { mode: 0o600 });
      const r = cli.run(["keys", "rotate", "--to-kid", "cloud", "--json"]);
      assert.equal(r.status, 0, r.stderr);
      const report = JSON.parse(r.stdout) as { fromKid: string; toKid: string; minted: boolean; rewrappedScopeKeys: number };
      assert.deepEqual([report.fromKid, report.toKid, report.minted, report.rewrappedScopeKeys], ["local", "cloud", false, 3]);
      const s = status(cli);
      assert.equal(s.active, "cloud");
      assert.deepEqual(s.keys.map((k) => [k.kid, k.provider, k.scopeKeys]).sort(), [
        ["cloud", cloud.name, 3],
        ["local", "keyring", 0],
      ]);
      revealAll(cli, 3);
      assert.equal(cli.run(["keys", "rekey", "project/p0"]).status, 0);
      revealAll(cli, 3);
      const refused = cli.run(["keys", "rotate"]);
      assert.equal(refused.status, 4, refused.stderr);
      assert.match(refused.stderr, new RegExp(`^error\\[KEY_CANNOT_MINT\\]: Coffer does not create ${cloud.service} keys`, "m"));
      const back = cli.run(["keys", "rotate", "--to-kid", "local", "--json"]);
      assert.equal(back.status, 0, back.stderr);
      assert.equal(cli.run(["keys", "retire", "cloud"]).status, 0);
      revealAll(cli, 3);
      assert.equal(cli.run(["audit", "verify"]).status, 0);
      // The cloud key alone (no keyring file): data stores and reveals; minting is refused plainly.
      const only = new CliHarness(cloud.only);
      clis.push(only);
      seed(only, 1);
      revealAll(only, 1);
      const no = only.run(["keys", "rotate"]);
      assert.match(no.stderr, new RegExp(`Coffer does not create ${cloud.service} keys.*--to-kid`));
      const secretsOut = cli.allOutput() + only.allOutput();
      for (const t of [gcp["token"], azure["token"]]) assert.ok(t !== undefined && !secretsOut.includes(t), "no token in any output");
    });
  }
});

describe("coffer keys rotate mints a Transit key version, SIGKILLed after each step (Transit fake in its own process)", () => {
  let fake: ChildProcess;
  let vault: Record<string, string> = {};
  const clis: CliHarness[] = [];
  before(async () => {
    const f = await startFake("fake-vault-transit.ts");
    [fake, vault] = [f.child, f.info];
  });
  after(() => {
    stop(fake);
    for (const c of clis) c.cleanup();
  });

  for (const point of ["key-written", "key-recorded"] as const) {
    it(`SIGKILL at ${point}: the old kid stays active, nothing half-recorded, the next rotate finishes`, () => {
      const cli = new CliHarness({});
      clis.push(cli);
      const keyring = join(cli.home, "keyring.json");
      writeFileSync(keyring, JSON.stringify({ active: "transit", keys: { transit: { provider: "vault-transit", key: "coffer" } } }), {
        mode: 0o600,
      });
      Object.assign(cli.env, { COFFER_KEYRING_FILE: keyring, VAULT_ADDR: vault["url"] ?? "", VAULT_TOKEN: vault["token"] ?? "" });
      seed(cli, 2);
      const killed = spawnSync(process.execPath, [CRASH, point, "keys", "rotate", "--kid", "t2"], {
        env: cli.env,
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(killed.signal, "SIGKILL", killed.stderr);
      const doc = JSON.parse(readFileSync(keyring, "utf8")) as {
        active: string;
        pending?: string;
        keys: Record<string, { version?: number }>;
      };
      assert.equal(doc.active, "transit");
      if (point === "key-written")
        assert.deepEqual(Object.keys(doc.keys), ["transit"], "a Transit version nothing records yet: the file is unchanged");
      else assert.deepEqual([doc.pending, typeof doc.keys["t2"]?.version], ["t2", "number"], "recorded as pending");
      assert.equal(status(cli).active, "transit");
      revealAll(cli, 2);
      const r = cli.run(["keys", "rotate", "--kid", "t2", "--json"]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { toKid: string }).toKid, "t2");
      const final = status(cli);
      assert.equal(final.active, "t2");
      assert.equal(final.keys.find((k) => k.kid === "transit")?.scopeKeys, 0);
      revealAll(cli, 2);
      assert.equal(cli.run(["keys", "retire", "transit"]).status, 0);
    });
  }
});
