import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CofferClient } from "../../src/sdk/index.ts";
import { CliHarness } from "../fixtures/cli.ts";
import { freshDatabase, type FreshDatabase } from "../fixtures/postgres.ts";
import { startServer, type ServerHandle } from "../fixtures/server.ts";

type Status = {
  active: string;
  keys: { kid: string; scopeKeys: number }[];
  rotationJobs: { fromKid: string | null; toKid: string; state: string }[];
};

async function until<T>(what: string, fn: () => Promise<T | null>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = await fn();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const counter = (metrics: string, outcome: string): number =>
  Number(new RegExp(`^coffer_kek_auto_rotation_checks_total\\{outcome="${outcome}"\\} (\\d+)$`, "m").exec(metrics)?.[1] ?? "0");

describe("COFFER_AUTO_ROTATE=1: two servers on one PostgreSQL, exactly one rotates when due", () => {
  let db: FreshDatabase;
  let cli: CliHarness;
  const servers: ServerHandle[] = [];
  before(async () => {
    db = await freshDatabase();
    cli = new CliHarness({ COFFER_DB_URL: db.url, COFFER_KEK_PROVIDER: "file" });
    assert.equal(cli.run(["migrate"]).status, 0);
    // Wraps under primary: 2 internal keys + 1 scope key + 4 rekeys = 7, past the limit of 6;
    // the new kid will have wrapped 3 (1 scope key + 2 internal keys), so it is not due again.
    assert.equal(cli.run(["secrets", "set", "project/p0", "K", "--stdin"], { input: "value-0" }).status, 0);
    for (let i = 0; i < 4; i++) assert.equal(cli.run(["keys", "rekey", "project/p0"]).status, 0);
  });
  after(async () => {
    for (const s of servers) await s.stop();
    cli.cleanup();
    await db.drop();
  });

  it("rotates once, audited with auto: true, counted in metrics, and both servers read with the new kid", async () => {
    const env = { COFFER_DB_URL: db.url, COFFER_AUTO_ROTATE: "1", COFFER_AUTO_ROTATE_CHECK: "1s", COFFER_ROTATE_AFTER_WRAPS: "6" };
    servers.push(...(await Promise.all([startServer({ home: cli.home, env }), startServer({ home: cli.home, env })])));
    const [a, b] = servers as [ServerHandle, ServerHandle];
    const token = a.adminToken ?? b.adminToken ?? "";
    const sa = new CofferClient({ baseUrl: a.url, token });
    const sb = new CofferClient({ baseUrl: b.url, token });
    const done = await until("the automatic rotation", async () => {
      const s = (await sa.encryptionStatus()) as unknown as Status;
      return s.active !== "primary" && s.rotationJobs[0]?.state === "done" ? s : null;
    });
    assert.equal(done.keys.find((k) => k.kid === "primary")?.scopeKeys, 0);
    // Several more checks on each server: none rotates again.
    await new Promise((r) => setTimeout(r, 3500));
    const later = (await sb.encryptionStatus()) as unknown as Status;
    assert.equal(later.active, done.active, "the other server picked up the new active kid");
    assert.equal(later.rotationJobs.filter((j) => j.fromKid === "primary").length, 1);
    assert.equal(later.keys.length, 2, "exactly one new key minted");
    const audit = await sa.listAudit({ action: "admin.encryption.rotate", limit: 100 });
    const autos = audit.items.filter((e) => e.outcome === "success" && e.details["auto"] === true);
    assert.equal(autos.length, 1);
    assert.equal(autos[0]?.details["newKid"], done.active);
    const [ma, mb] = [await sa.metrics(), await sb.metrics()];
    assert.equal(counter(ma, "rotated") + counter(mb, "rotated"), 1);
    assert.ok(counter(ma, "not_due") + counter(mb, "not_due") > 0);
    for (const sdk of [sa, sb]) assert.equal((await sdk.revealSecret("project/p0", "K", { reason: "check" })).value, "value-0");
    await sb.putSecret("project/p1", "K", { value: "value-1" });
    assert.equal((await sa.revealSecret("project/p1", "K", { reason: "check" })).value, "value-1");
  });
});
