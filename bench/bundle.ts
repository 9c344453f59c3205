// `npm run bench -- --files` (second part): export and import a 100,000-secret bundle through
// the real service on a real SQLite file (audited reveals, one import transaction), beside the
// floors of the same run: Debian's `age` CLI decrypting the same bundle bytes, and bare
// AES-256-GCM (node:crypto) over the same values. See docs/import-export.md ("Benchmark").
import { spawnSync } from "node:child_process";
import { createCipheriv, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { loadConfig } from "../src/core/config/index.ts";
import { Secret } from "../src/core/secret/index.ts";
import { createCore, LOCAL_CONTEXT, type Actor } from "../src/core/service/index.ts";
import { openBundle, sealBundle } from "../src/files/index.ts";
import { median, progress } from "./common.ts";

export const BUNDLE_SECRETS = 100_000;
const ACTOR: Actor = { kind: "local", user: "bench" };

export type BundleCase = { readonly op: string; readonly ms: number; readonly vsAgeCli: number; readonly vsAesGcm: number };
export type BundleReport = {
  readonly secrets: number;
  readonly bundleBytes: number;
  readonly ageCliMs: number | null;
  readonly aesGcmMs: number;
  readonly cases: readonly BundleCase[];
};

function aesFloor(key: Buffer, values: readonly Buffer[]): number {
  const t = performance.now();
  for (const v of values) {
    const c = createCipheriv("aes-256-gcm", key, randomBytes(12));
    c.update(v);
    c.final();
    c.getAuthTag();
  }
  return performance.now() - t;
}

/** The `age` CLI decrypting the bundle (to a pipe it drains); null when age is not installed. */
function ageCliMs(dir: string, identity: string, bundle: string): number | null {
  writeFileSync(join(dir, "key.txt"), `${identity}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "b.age"), bundle);
  const t = performance.now();
  const r = spawnSync("age", ["-d", "-i", join(dir, "key.txt"), join(dir, "b.age")], { maxBuffer: 1 << 30 });
  const ms = performance.now() - t;
  return r.status === 0 ? ms : null;
}

async function time<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await fn();
  return [v, performance.now() - t];
}

export async function measureBundle(quick: boolean): Promise<BundleReport> {
  const n = quick ? 10_000 : BUNDLE_SECRETS;
  const dir = mkdtempSync(join(tmpdir(), "coffer-bench-bundle-"));
  const core = await createCore(loadConfig({ env: { COFFER_HOME: dir, COFFER_KEK_PROVIDER: "file" } }), { migrate: true });
  try {
    const identity = await generateX25519Identity();
    const seal = { kind: "recipients", recipients: [await identityToRecipient(identity)] } as const;
    const values = Array.from({ length: n }, (_, i) => Buffer.from(`${randomBytes(18).toString("base64url")}-${String(i)}`));
    progress(`bundle: seeding ${String(n)} secrets (one importMany transaction)`);
    const entries = values.map((v, i) => ({ key: `KEY_${String(i)}`, value: Secret.of(v) }));
    const [, seedMs] = await time(() => core.secrets.importMany(ACTOR, LOCAL_CONTEXT, { owner: "project/src", mode: "merge", entries }));
    progress(`bundle: export (reveal ${String(n)} audited, seal), open, import`);
    const [exported, revealMs] = await time(() =>
      core.secrets.exportValues(ACTOR, LOCAL_CONTEXT, { owner: "project/src", reason: "bench" }),
    );
    const [bundle, sealMs] = await time(() =>
      sealBundle({ owner: "project/src", createdAt: new Date().toISOString(), prefix: null, entries: exported }, seal),
    );
    const [opened, openMs] = await time(() => openBundle(Buffer.from(bundle), { identities: [identity], passphrase: null }));
    const [, importMs] = await time(() =>
      core.secrets.importMany(ACTOR, LOCAL_CONTEXT, { owner: "project/dst", mode: "replace", entries: opened.entries }),
    );
    const key = randomBytes(32);
    const aesGcmMs = median([aesFloor(key, values), aesFloor(key, values), aesFloor(key, values)]);
    const cli = [ageCliMs(dir, identity, bundle), ageCliMs(dir, identity, bundle), ageCliMs(dir, identity, bundle)];
    const ageMs = cli.includes(null) ? null : median(cli as number[]);
    const row = (op: string, ms: number): BundleCase => ({
      op,
      ms,
      vsAgeCli: ageMs === null ? Number.NaN : ms / ageMs,
      vsAesGcm: ms / aesGcmMs,
    });
    return {
      secrets: n,
      bundleBytes: Buffer.byteLength(bundle),
      ageCliMs: ageMs,
      aesGcmMs,
      cases: [
        row("export: reveal (audited) + seal bundle", revealMs + sealMs),
        row("  of which: seal bundle (age, armored)", sealMs),
        row("import: open bundle + importMany", openMs + importMs),
        row("  of which: open bundle (age, parse)", openMs),
        row("import of plaintext entries (seed)", seedMs),
      ],
    };
  } finally {
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatBundleText(r: BundleReport): string {
  const head = ["bundle op", "ms", "vs age CLI", "vs AES-GCM"];
  const rows = r.cases.map((c) => [
    c.op,
    c.ms.toFixed(0),
    Number.isNaN(c.vsAgeCli) ? "n/a" : `${c.vsAgeCli.toFixed(1)}x`,
    `${c.vsAesGcm.toFixed(1)}x`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [
    `Bundle: ${String(r.secrets)} secrets, ${String(r.bundleBytes)} bytes armored; SQLite file, file KEK; one run each`,
    `floors of the same run: age CLI decrypting the same bundle bytes ${r.ageCliMs === null ? "n/a (age not installed)" : `${r.ageCliMs.toFixed(0)} ms`}; bare AES-256-GCM over the same values ${r.aesGcmMs.toFixed(1)} ms (medians of 3)`,
    "",
    line(head),
    ...rows.map(line),
  ].join("\n");
}
