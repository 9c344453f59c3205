// `npm run bench -- --kms`: reads with the KEK in a key service — the AWS KMS and Vault Transit
// protocol fakes of test/fixtures on 127.0.0.1 — beside the same reads with a local key file
// (the floor: no key-service call at all). Reveals are the reads that unwrap keys (a masked get
// decrypts nothing), so the figures are reveal throughput and key-service calls per 1,000
// reveals, with the scope-key cache on (default TTL) and off (COFFER_KEY_CACHE_TTL=0).
// Loopback round trips make the fakes faster than a real KMS (~5-20 ms per call in-region):
// the call count is the figure that carries over. See docs/keys.md ("Cost of a key service").
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/core/config/index.ts";
import { Secret } from "../src/core/secret/index.ts";
import { LOCAL_CONTEXT, createCore, type Actor, type Core } from "../src/core/service/index.ts";
import { FakeAwsKms } from "../test/fixtures/fake-aws-kms.ts";
import { FakeVaultTransit } from "../test/fixtures/fake-vault-transit.ts";
import { fakeKmsEnv } from "../test/fixtures/key-services.ts";
import { median, opsPerSec, progress } from "./common.ts";
import { machine } from "./report.ts";

const ACTOR: Actor = { kind: "local", user: "bench" };

export type KmsCase = {
  readonly kek: string;
  readonly cache: string;
  readonly reveals: number;
  readonly perSec: number;
  /** Key-service decrypt calls (AWS Decrypt, Transit decrypt) during the timed reveals. */
  readonly decryptCalls: number;
  readonly callsPer1000: number;
  /** Throughput as a percentage of the local-key floor. */
  readonly ofFloorPct: number;
};
export type KmsReport = { readonly machine: ReturnType<typeof machine>; readonly owners: number; readonly cases: readonly KmsCase[] };

async function seed(env: Record<string, string>, owners: number): Promise<void> {
  const core = await createCore(loadConfig({ env }));
  try {
    for (let o = 0; o < owners; o += 1) {
      await core.secrets.set(ACTOR, LOCAL_CONTEXT, { owner: `project/p${String(o)}`, key: "K", value: Secret.fromString(`v${String(o)}`) });
    }
  } finally {
    await core.close();
  }
}

/** Reveals round-robin over the owners in a freshly opened core (cold cache), timed. */
async function timeReveals(env: Record<string, string>, owners: number, reveals: number): Promise<number> {
  const core: Core = await createCore(loadConfig({ env }));
  try {
    const started = performance.now();
    for (let i = 0; i < reveals; i += 1) {
      await core.secrets.reveal(ACTOR, LOCAL_CONTEXT, { owner: `project/p${String(i % owners)}`, key: "K", reason: "bench" });
    }
    return performance.now() - started;
  } finally {
    await core.close();
  }
}

export async function measureKms(quick: boolean): Promise<KmsReport> {
  const owners = quick ? 20 : 100;
  const reveals = quick ? 2_000 : 10_000;
  const rounds = quick ? 2 : 3;
  const dir = mkdtempSync(join(tmpdir(), "coffer-bench-kms-"));
  const kms = await FakeAwsKms.start();
  const vault = await FakeVaultTransit.start();
  try {
    vault.createKey("coffer");
    const homes = {
      local: { COFFER_HOME: join(dir, "local"), COFFER_KEK_PROVIDER: "file" },
      "aws-kms": { COFFER_HOME: join(dir, "kms"), ...fakeKmsEnv(kms, kms.createKey()) },
      "vault-transit": {
        COFFER_HOME: join(dir, "vault"),
        COFFER_KEK_PROVIDER: "vault-transit",
        COFFER_VAULT_TRANSIT_KEY: "coffer",
        VAULT_ADDR: vault.url,
        VAULT_TOKEN: vault.token,
      },
    } as const;
    for (const [name, env] of Object.entries(homes)) {
      progress(`kms: seeding ${String(owners)} owners with the ${name} KEK`);
      await seed(env, owners);
    }
    const decrypts = (kek: string): number => (kek === "aws-kms" ? kms.calls.Decrypt : kek === "vault-transit" ? vault.calls.decrypt : 0);
    const plan = Object.entries(homes).flatMap(([kek, env]) =>
      (kek === "local" ? ["default (5m)"] : ["default (5m)", "off (TTL 0)"]).map((cache) => ({
        kek,
        cache,
        env: cache.startsWith("off") ? { ...env, COFFER_KEY_CACHE_TTL: "0" } : env,
      })),
    );
    progress(`kms: warming up`);
    for (const p of plan) await timeReveals(p.env, owners, Math.ceil(reveals / 20));
    // Rounds alternate the cases, so drift (JIT, page cache, CPU clock) spreads over all of them.
    const times = new Map<string, number[]>();
    const calls = new Map<string, number>();
    for (let round = 0; round < rounds; round += 1) {
      for (const p of plan) {
        kms.reset();
        vault.reset();
        const ms = await timeReveals(p.env, owners, reveals);
        times.set(`${p.kek}/${p.cache}`, [...(times.get(`${p.kek}/${p.cache}`) ?? []), ms]);
        calls.set(`${p.kek}/${p.cache}`, decrypts(p.kek));
      }
      progress(`kms: round ${String(round + 1)} of ${String(rounds)} done`);
    }
    const perSecOf = (k: string): number => opsPerSec(reveals, median(times.get(k) ?? [0]));
    const floorPerSec = perSecOf("local/default (5m)");
    const cases: KmsCase[] = plan.map((p) => {
      const k = `${p.kek}/${p.cache}`;
      const n = calls.get(k) ?? 0;
      const perSec = perSecOf(k);
      return {
        kek: p.kek,
        cache: p.cache,
        reveals,
        perSec,
        decryptCalls: n,
        callsPer1000: (n * 1000) / reveals,
        ofFloorPct: (100 * perSec) / floorPerSec,
      };
    });
    return { machine: machine(), owners, cases };
  } finally {
    await kms.close();
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatKmsText(r: KmsReport): string {
  const rows = r.cases.map(
    (c) =>
      `  ${c.kek.padEnd(14)} ${c.cache.padEnd(13)} ${c.perSec.toFixed(0).padStart(8)}/s ${c.ofFloorPct.toFixed(1).padStart(6)}% ${String(c.decryptCalls).padStart(7)} ${c.callsPer1000.toFixed(1).padStart(10)}`,
  );
  return [
    `Reveals with the KEK in a key service (protocol fakes on 127.0.0.1), ${String(r.owners)} owners round-robin, Node ${r.machine.node}`,
    `  ${"KEK".padEnd(14)} ${"cache".padEnd(13)} ${"reveals".padStart(10)} ${"floor".padStart(7)} ${"decrypts".padStart(7)} ${"per 1,000".padStart(10)}`,
    ...rows,
    "  floor = the same reveals with a local key file (median of the rounds); decrypts = key-service decrypt calls during",
    "  one timed run, from opening the core (its boot self-test makes one) to the last reveal",
  ].join("\n");
}
