import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { CofferClient } from "../../src/sdk/index.ts";
import { CliHarness } from "../fixtures/cli.ts";
import { startServer, type ServerHandle } from "../fixtures/server.ts";

type Status = {
  active: string;
  keys: { kid: string; scopeKeys: number; safeToRetireAt: string | null }[];
  rotationJobs: { state: string; toKid: string }[];
};

async function until<T>(what: string, fn: () => Promise<T | null>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await fn();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("POST /v1/admin/encryption/rotate on a fresh default data directory", () => {
  const cli = new CliHarness();
  let srv: ServerHandle | null = null;
  after(async () => {
    await srv?.stop();
    cli.cleanup();
  });

  it("mints a new key, makes it active, every secret still reveals, and the old kid can then be retired", async () => {
    srv = await startServer({ home: cli.home, env: { COFFER_BACKUP_RETENTION: "7d" } });
    const adminToken = srv.adminToken ?? "";
    const sdk = new CofferClient({ baseUrl: srv.url, token: adminToken });
    for (let i = 0; i < 5; i++) await sdk.putSecret(`project/p${String(i)}`, "K", { value: `value-${String(i)}` });
    const started = await sdk.rotateEncryption({ batchSize: 2 });
    assert.equal(started.fromKid, "primary");
    assert.match(started.toKid, /^k\d{4}-\d{2}-\d{2}$/);
    assert.equal(started.minted, true);
    const done = await until("the rotation", async () => {
      const s = (await sdk.encryptionStatus()) as unknown as Status;
      return s.rotationJobs[0]?.state === "done" && s.rotationJobs[0].toKid === started.toKid ? s : null;
    });
    assert.equal(done.active, started.toKid);
    const old = done.keys.find((k) => k.kid === "primary");
    assert.ok(old !== undefined);
    assert.equal(old.scopeKeys, 0);
    assert.match(old.safeToRetireAt ?? "", /^\d{4}-\d{2}-\d{2}T/, "status says when the old kid is safe to retire");
    for (let i = 0; i < 5; i++)
      assert.equal((await sdk.revealSecret(`project/p${String(i)}`, "K", { reason: "check" })).value, `value-${String(i)}`);
    const metrics = await sdk.metrics();
    assert.match(metrics, /^coffer_kek_rotations_total\{auto="false",minted="true"\} 1$/m);
    const audit = await sdk.listAudit({ action: "admin.encryption.rotate", limit: 10 });
    assert.ok(audit.items.some((e) => e.outcome === "success" && e.details["minted"] === true && e.details["oldKid"] === "primary"));
    await srv.stop();
    srv = null;
    const retire = cli.run(["keys", "retire", "primary"], { env: { COFFER_KEK_PROVIDER: "file" } });
    assert.equal(retire.status, 0, retire.stderr);
    const token = adminToken;
    srv = await startServer({ home: cli.home });
    const again = new CofferClient({ baseUrl: srv.url, token });
    assert.equal((await again.revealSecret("project/p3", "K", { reason: "after retire" })).value, "value-3");
    assert.equal(((await again.encryptionStatus()) as unknown as Status).active, started.toKid);
  });
});
