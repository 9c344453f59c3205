import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CofferClient } from "../../src/sdk/index.ts";
import { CliHarness } from "../fixtures/cli.ts";
import { rotateAndKillMidway, seedOwners } from "../fixtures/rotation.ts";
import { startServer, type ServerHandle } from "../fixtures/server.ts";

const OWNERS = 200;
type Status = { active: string; keys: { kid: string; scopeKeys: number }[]; rotationJobs: { id: string; state: string; toKid: string }[] };

async function until<T>(what: string, fn: () => Promise<T | null>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await fn();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("KEK rotation with the server: resumed at start, and started online by the admin API", () => {
  let cli: CliHarness;
  let keyring = "";
  const keys = { k1: randomBytes(32).toString("base64"), k2: randomBytes(32).toString("base64"), k3: randomBytes(32).toString("base64") };
  const writeKeyring = (active: string, ks: Record<string, string>): void => {
    writeFileSync(keyring, JSON.stringify({ active, keys: ks }), { mode: 0o600 });
  };
  let srv: ServerHandle | null = null;

  before(async () => {
    cli = new CliHarness();
    keyring = join(cli.home, "keyring.json");
    cli.env["COFFER_KEYRING_FILE"] = keyring;
    writeKeyring("k1", { k1: keys.k1 });
    await seedOwners({ COFFER_HOME: cli.home, COFFER_KEYRING_FILE: keyring }, OWNERS);
  });
  after(async () => {
    await srv?.stop();
    cli.cleanup();
  });

  it("finishes a rotation killed with SIGKILL midway when the server starts", async () => {
    writeKeyring("k2", { k1: keys.k1, k2: keys.k2 });
    const killed = await rotateAndKillMidway(cli.env, "k2");
    assert.equal(killed, true, "the rotation was killed while running");

    srv = await startServer({ home: cli.home, env: { COFFER_KEYRING_FILE: keyring } });
    assert.match(srv.output(), /resuming KEK rotation job rj_[0-9a-f]+ in the background/);
    const token = srv.adminToken ?? "";
    const sdk = new CofferClient({ baseUrl: srv.url, token });
    const done = await until("the resumed job", async () => {
      const s = (await sdk.encryptionStatus()) as unknown as Status;
      return s.rotationJobs[0]?.state === "done" ? s : null;
    });
    assert.equal(done.keys.find((k) => k.kid === "k1")?.scopeKeys, 0);
    for (const i of [0, 17, OWNERS - 1])
      assert.equal((await sdk.revealSecret(`project/p${String(i)}`, "K", { reason: "check" })).value, `value-${String(i)}`);
    const metrics = await sdk.metrics();
    const gauge = (name: string): number => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(metrics)?.[1] ?? "-1");
    assert.ok(gauge("coffer_rotation_scope_keys_done") > 0, "rotation progress exported");
    assert.equal(gauge("coffer_rotation_scope_keys_done"), gauge("coffer_rotation_scope_keys_total"));
  });

  it("POST /v1/admin/encryption/rotate rewraps in the background while reads and writes go on, audited", async () => {
    assert.ok(srv !== null);
    const token = srv.adminToken ?? "";
    await srv.stop();
    writeKeyring("k3", { k2: keys.k2, k3: keys.k3 });
    srv = await startServer({ home: cli.home, env: { COFFER_KEYRING_FILE: keyring } });
    const sdk = new CofferClient({ baseUrl: srv.url, token });
    const started = await sdk.rotateEncryption({ batchSize: 1 });
    assert.equal(started.toKid, "k3");
    // Online: reads and writes during the job.
    const during = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await sdk.putSecret(`project/p${String(i)}`, "NEW", { value: `new-${String(i)}` });
        return (await sdk.revealSecret(`project/p${String(i)}`, "K", { reason: "during" })).value;
      }),
    );
    assert.deepEqual(
      during,
      Array.from({ length: 20 }, (_, i) => `value-${String(i)}`),
    );
    const done = await until("the API job", async () => {
      const s = (await sdk.encryptionStatus()) as unknown as Status;
      return s.rotationJobs.find((j) => j.toKid === "k3")?.state === "done" ? s : null;
    });
    assert.equal(done.active, "k3");
    assert.equal(done.keys.find((k) => k.kid === "k2")?.scopeKeys, 0);
    const audit = await sdk.listAudit({ action: "admin.encryption.rotate", limit: 1000 });
    assert.ok(audit.items.some((e) => e.outcome === "success" && e.actor.startsWith("token:")));
    for (let i = 0; i < 20; i++)
      assert.equal((await sdk.revealSecret(`project/p${String(i)}`, "NEW", { reason: "after" })).value, `new-${String(i)}`);
  });
});
