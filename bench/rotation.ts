// `npm run bench -- --rotation`: KEK rotation, owner rekey and masked `get` during a rotation,
// on SQLite with 1,000,000 secrets across 10,000 owners, each beside the raw floor of the same
// run. See docs/benchmarks.md ("Rotation").
import { spawn, type ChildProcess } from "node:child_process";
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import SqliteDatabase from "better-sqlite3";
import { loadConfig } from "../src/core/config/index.ts";
import { ownerIdColumn, parseOwner } from "../src/core/model/index.ts";
import { Secret } from "../src/core/secret/index.ts";
import { LOCAL_CONTEXT, createCore, type Core } from "../src/core/service/index.ts";
import type { Cleanup } from "./cleanup.ts";
import { ACTOR } from "./coffer-ops.ts";
import { CHILD_RSS_PREFIX, makeWorkload, median, opsPerSec, progress, yieldToEventLoop } from "./common.ts";
import { machine, type BenchReport } from "./report.ts";
import { childEnv } from "./startup.ts";

export type RotationCounts = {
  readonly secrets: number;
  readonly owners: number;
  /** Secrets of the one owner that is rekeyed; the rest are spread evenly over the other owners. */
  readonly rekeyOwnerSecrets: number;
  /** Timed runs of (a) and of (b), floor and Coffer alternating; the median is reported. */
  readonly rounds: number;
  /** (c): busy windows (each followed by an idle window as long), and the least length of one. */
  readonly getWindows: number;
  readonly minBusyMs: number;
  /** Rows per transaction while seeding (untimed). */
  readonly seedTxRows: number;
};

export const ROTATION_FULL: RotationCounts = {
  secrets: 1_000_000,
  owners: 10_000,
  rekeyOwnerSecrets: 100_000,
  rounds: 3,
  getWindows: 3,
  minBusyMs: 3_000,
  seedTxRows: 50_000,
};

export const ROTATION_QUICK: RotationCounts = {
  secrets: 100_000,
  owners: 1_000,
  rekeyOwnerSecrets: 10_000,
  rounds: 3,
  getWindows: 3,
  minBusyMs: 1_500,
  seedTxRows: 50_000,
};

/** The issue's targets. */
export const ROTATION_TARGETS = { kekRotationMs: 1000, rekeyMaxRatio: 2, getDuringRotationMinPct: 70 } as const;

const BATCH = 500;
const KIDS = ["k1", "k2"] as const;
type Kid = (typeof KIDS)[number];
const REASON = "benchmark";
const SAMPLE = 20;

export type TimedPair = {
  readonly cofferMs: readonly number[];
  readonly floorMs: readonly number[];
  readonly cofferMedianMs: number;
  readonly floorMedianMs: number;
  /** Coffer time / floor time (medians). */
  readonly ratio: number;
};

export type RotationReport = {
  readonly quick: boolean;
  readonly machine: BenchReport["machine"];
  readonly counts: RotationCounts;
  readonly seedSeconds: number;
  readonly floorCopySeconds: number;
  readonly kekRotation: TimedPair & { readonly scopeKeys: number; readonly targetMs: number; readonly pass: boolean };
  readonly rekey: TimedPair & { readonly versions: number; readonly targetRatio: number; readonly pass: boolean };
  readonly getDuringRotation: {
    readonly idleOpsPerSec: number;
    readonly busyOpsPerSec: number;
    readonly pct: number;
    readonly busyMs: number;
    readonly childRotations: number;
    readonly childMedianMs: number;
    readonly targetPct: number;
    readonly pass: boolean;
  };
  readonly peakRssMiB: {
    readonly afterSeed: number;
    readonly afterKekRotation: number;
    readonly afterRekey: number;
    readonly end: number;
    readonly childMax: number;
  };
  readonly warnings: readonly string[];
  readonly seconds: number;
};

// ---------------------------------------------------------------------------------------------
// Layout of the seeded data

function ownerName(o: number): string {
  return `project/rot-${String(o).padStart(5, "0")}`;
}
function keyName(j: number): string {
  return `ROT_KEY_${String(j).padStart(6, "0")}`;
}
/** Secrets of owner `o`: owner 0 is the rekey owner; the others share the rest evenly. */
function secretsOf(c: RotationCounts, o: number): number {
  if (o === 0) return c.rekeyOwnerSecrets;
  const rest = c.secrets - c.rekeyOwnerSecrets;
  const others = c.owners - 1;
  return Math.floor(rest / others) + (o - 1 < rest % others ? 1 : 0);
}
const VALUES = makeWorkload(256).values;
function valueIndex(o: number, j: number): number {
  return (o * 31 + j) % VALUES.length;
}

const mib = (kb: number): number => Math.round(kb / 1024);
const maxRssKb = (): number => process.resourceUsage().maxRSS;

// ---------------------------------------------------------------------------------------------
// Coffer's side: the keyring file and the core

type Env = { readonly home: string; readonly keyringFile: string; readonly keys: Readonly<Record<Kid, string>> };

function writeKeyring(env: Env, active: Kid, kids: readonly Kid[]): void {
  const keys = Object.fromEntries(kids.map((k) => [k, env.keys[k]]));
  writeFileSync(env.keyringFile, JSON.stringify({ active, keys }), { mode: 0o600 });
  chmodSync(env.keyringFile, 0o600);
}

function cofferEnv(env: Env): Record<string, string> {
  return { COFFER_HOME: env.home, COFFER_KEYRING_FILE: env.keyringFile };
}

function openCore(env: Env): Promise<Core> {
  return createCore(loadConfig({ env: cofferEnv(env) }));
}

async function withCore<T>(env: Env, fn: (core: Core) => Promise<T>): Promise<T> {
  const core = await openCore(env);
  try {
    return await fn(core);
  } finally {
    await core.close();
  }
}

/** Reveals a sample of secrets (always including the rekey owner's) through the core and checks the plaintext. */
async function verifySample(env: Env, c: RotationCounts, when: string): Promise<void> {
  await withCore(env, async (core) => {
    for (let s = 0; s < SAMPLE; s++) {
      const o = s === 0 ? 0 : Math.floor(Math.random() * c.owners);
      const j = Math.floor(Math.random() * secretsOf(c, o));
      const { value } = await core.secrets.reveal(ACTOR, LOCAL_CONTEXT, { owner: ownerName(o), key: keyName(j), reason: REASON });
      if (value.revealText() !== VALUES[valueIndex(o, j)]) throw new Error(`${when}: wrong plaintext for ${ownerName(o)} ${keyName(j)}`);
      value.wipe();
    }
  });
  progress(`${when}: ${String(SAMPLE)} sampled secrets reveal correctly through the core`);
}

/**
 * Seeds through Coffer's public service (untimed): each owner's secrets by `secrets.importMany`
 * (merge), at most `seedTxRows` per call, so scope keys, sealing, state MACs and audit events
 * are exactly what a user's writes make.
 */
async function seed(env: Env, c: RotationCounts): Promise<void> {
  const secrets = VALUES.map((v) => Secret.fromString(v));
  let written = 0;
  await withCore(env, async (core) => {
    for (let o = 0; o < c.owners; o++) {
      const n = secretsOf(c, o);
      for (let from = 0; from < n; from += c.seedTxRows) {
        const entries = [];
        for (let j = from; j < Math.min(n, from + c.seedTxRows); j++) entries.push({ key: keyName(j), value: secrets[valueIndex(o, j)]! });
        await core.secrets.importMany(ACTOR, LOCAL_CONTEXT, { owner: ownerName(o), mode: "merge", entries });
        const before = written;
        written += entries.length;
        if (Math.floor(written / 200_000) > Math.floor(before / 200_000))
          progress(`seed: ${written.toLocaleString("en-US")} secrets written`);
      }
      if (o % 100 === 99) await yieldToEventLoop();
    }
  });
  if (written !== c.secrets) throw new Error(`seed: ${String(written)} secrets written, expected ${String(c.secrets)}`);
  const db = new SqliteDatabase(join(env.home, "coffer.db"));
  try {
    db.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The floor: bare better-sqlite3 and AES-256-GCM with KeyObject keys, on copies of the tables

const NONCE = 12;
const TAG = 16;

/** AES-256-GCM wrap of a 32-byte key in Coffer's 62-byte layout, bound to `aad`. */
function wrap(kek: KeyObject, key: Uint8Array, aad: Buffer): Buffer {
  const nonce = randomBytes(NONCE);
  const c = createCipheriv("aes-256-gcm", kek, nonce);
  c.setAAD(aad);
  const ct = c.update(key);
  c.final();
  return Buffer.concat([Buffer.of(1, 1), nonce, c.getAuthTag(), ct]);
}

function unwrap(kek: KeyObject, w: Uint8Array, aad: Buffer): Buffer {
  const d = createDecipheriv("aes-256-gcm", kek, w.subarray(2, 2 + NONCE));
  d.setAAD(aad);
  d.setAuthTag(w.subarray(2 + NONCE, 2 + NONCE + TAG));
  const out = d.update(w.subarray(2 + NONCE + TAG));
  d.final();
  return out;
}

type FloorDb = {
  /** (a): rewraps every scope key not under `toKid`, a batch per transaction. */
  rotate(toKid: Kid): number;
  /** (b): the rekey owner's versions: every DEK rewrapped under a new scope key, one transaction. */
  rekey(): number;
  close(): void;
};

/**
 * The floor's own database in the same directory, with Coffer's pragmas and Coffer's DDL for
 * `secrets`, `secret_versions` and `scope_keys`, holding a copy of all their rows; the floor
 * then re-wraps the scope keys and the rekey owner's DEKs under its own keys (untimed), so its
 * timed work really unwraps and wraps.
 */
function openFloorDb(dir: string, cofferDb: string, c: RotationCounts): FloorDb {
  const db = new SqliteDatabase(join(dir, "floor-rotation.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  db.prepare(`ATTACH DATABASE ? AS coffer`).run(cofferDb);
  const ddl = db
    .prepare<[], string>(
      `SELECT sql FROM coffer.sqlite_master WHERE tbl_name IN ('secrets', 'secret_versions', 'scope_keys') AND sql IS NOT NULL ORDER BY rowid`,
    )
    .pluck()
    .all();
  for (const stmt of ddl) db.exec(stmt);
  db.transaction(() => {
    for (const t of ["scope_keys", "secrets", "secret_versions"]) db.exec(`INSERT INTO main.${t} SELECT * FROM coffer.${t}`);
  }).immediate();
  db.exec(`DETACH DATABASE coffer`);

  const keks: Record<Kid, KeyObject> = { k1: createSecretKey(randomBytes(32)), k2: createSecretKey(randomBytes(32)) };
  const scopeAad = (id: string, kid: string): Buffer => Buffer.from(`scope-key|${id}|${kid}`);
  const dekAad = (secretId: number, version: number, scopeKeyId: string): Buffer =>
    Buffer.from(`dek|${String(secretId)}|${String(version)}|${scopeKeyId}`);
  const first = parseOwner(ownerName(0));
  const rekeyOwner = { ownerType: first.kind, ownerId: ownerIdColumn(first) };
  // The rekey owner's floor scope key takes the id of its copied row (replaced by each rekey).
  let scopeId = db
    .prepare<[string, string], string>(`SELECT id FROM scope_keys WHERE owner_type = ? AND owner_id = ? AND state = 'active'`)
    .pluck()
    .get(rekeyOwner.ownerType, rekeyOwner.ownerId)!;
  let scopeKey = createSecretKey(randomBytes(32));

  // Untimed: the floor's own wrapped keys (scope keys under k1, the rekey owner's DEKs under its scope key).
  const allScope = db.prepare<[], { id: string }>(`SELECT id FROM scope_keys`).all();
  const setScope = db.prepare<[Buffer, string]>(`UPDATE scope_keys SET kid = 'k1', wrapped_key = ? WHERE id = ?`);
  const ownerVersions = db.prepare<[string, string], { secret_id: number; version: number; wrapped_dek: Uint8Array }>(
    `SELECT secret_id, version, wrapped_dek FROM secret_versions
     WHERE secret_id IN (SELECT id FROM secrets WHERE owner_type = ? AND owner_id = ?) ORDER BY secret_id, version`,
  );
  const setDek = db.prepare<[Buffer, string, number, number]>(
    `UPDATE secret_versions SET wrapped_dek = ?, scope_key_id = ? WHERE secret_id = ? AND version = ?`,
  );
  db.transaction(() => {
    for (const r of allScope) setScope.run(wrap(keks.k1, randomBytes(32), scopeAad(r.id, "k1")), r.id);
    for (const r of ownerVersions.all(rekeyOwner.ownerType, rekeyOwner.ownerId)) {
      setDek.run(wrap(scopeKey, randomBytes(32), dekAad(r.secret_id, r.version, scopeId)), scopeId, r.secret_id, r.version);
    }
  }).immediate();
  db.pragma("wal_checkpoint(TRUNCATE)");
  if (allScope.length !== c.owners) throw new Error(`floor: ${String(allScope.length)} scope keys, expected ${String(c.owners)}`);

  const notUnder = db.prepare<[string, number], { id: string; kid: Kid; wrapped_key: Uint8Array }>(
    `SELECT id, kid, wrapped_key FROM scope_keys WHERE kid <> ? ORDER BY id LIMIT ?`,
  );
  const rewrapScope = db.prepare<[string, Buffer, string, string]>(
    `UPDATE scope_keys SET kid = ?, wrapped_key = ?, rewrapped_at = ? WHERE id = ?`,
  );
  const rotateBatch = db.transaction((toKid: Kid): number => {
    const now = new Date().toISOString();
    const rows = notUnder.all(toKid, BATCH);
    for (const r of rows) {
      const key = unwrap(keks[r.kid], r.wrapped_key, scopeAad(r.id, r.kid));
      rewrapScope.run(toKid, wrap(keks[toKid], key, scopeAad(r.id, toKid)), now, r.id);
    }
    return rows.length;
  });
  const insScope = db.prepare<[string, string, string, Buffer, string]>(
    `INSERT INTO scope_keys (id, owner_type, owner_id, kid, wrapped_key, state, created_at, rewrapped_at) VALUES (?, ?, ?, 'k1', ?, 'active', ?, NULL)`,
  );
  const delScope = db.prepare<[string]>(`DELETE FROM scope_keys WHERE id = ?`);
  const rekeyTx = db.transaction((): number => {
    const freshId = `sk_floor_${randomBytes(8).toString("hex")}`;
    const fresh = createSecretKey(randomBytes(32));
    delScope.run(scopeId);
    insScope.run(
      freshId,
      rekeyOwner.ownerType,
      rekeyOwner.ownerId,
      wrap(keks.k1, randomBytes(32), scopeAad(freshId, "k1")),
      new Date().toISOString(),
    );
    const rows = ownerVersions.all(rekeyOwner.ownerType, rekeyOwner.ownerId);
    for (const r of rows) {
      const dek = unwrap(scopeKey, r.wrapped_dek, dekAad(r.secret_id, r.version, scopeId));
      setDek.run(wrap(fresh, dek, dekAad(r.secret_id, r.version, freshId)), freshId, r.secret_id, r.version);
    }
    scopeId = freshId;
    scopeKey = fresh;
    return rows.length;
  });
  return {
    rotate: (toKid) => {
      let total = 0;
      for (;;) {
        const n = rotateBatch.immediate(toKid);
        total += n;
        if (n < BATCH) return total;
      }
    },
    rekey: () => rekeyTx.immediate(),
    close: () => {
      db.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// (c): masked `get` while another process runs `coffer keys rotate`

type GetRef = { readonly owner: string; readonly key: string };

function getRefs(c: RotationCounts, n: number): GetRef[] {
  const refs: GetRef[] = [];
  for (let i = 0; i < n; i++) {
    const o = Math.floor(Math.random() * c.owners);
    refs.push({ owner: ownerName(o), key: keyName(Math.floor(Math.random() * secretsOf(c, o))) });
  }
  return refs;
}

/** Masked gets until `stop()` says so (checked every 64 gets, yielding to the event loop). */
async function getLoop(
  core: Core,
  refs: readonly GetRef[],
  start: number,
  stop: (elapsedMs: number) => boolean,
): Promise<{ n: number; ms: number }> {
  const t0 = performance.now();
  let n = 0;
  for (;;) {
    for (let k = 0; k < 64; k++) {
      await core.secrets.get(ACTOR, LOCAL_CONTEXT, refs[(start + n) % refs.length]!);
      n++;
    }
    await yieldToEventLoop();
    if (stop(performance.now() - t0)) return { n, ms: performance.now() - t0 };
  }
}

type ChildRun = { readonly ms: number; readonly maxRssKb: number };

/** One `node bin/coffer.js keys rotate --batch 500` to the keyring's active kid. */
function spawnRotation(root: string, env: Env, live: Set<ChildProcess>): { child: ChildProcess; done: Promise<ChildRun> } {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    [
      "--import",
      pathToFileURL(join(root, "bench", "child-rss.ts")).href,
      join(root, "bin", "coffer.js"),
      "keys",
      "rotate",
      "--batch",
      String(BATCH),
    ],
    { env: childEnv(cofferEnv(env)), stdio: ["ignore", "pipe", "pipe"] },
  );
  live.add(child);
  let stderr = "";
  let stdout = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  const done = new Promise<ChildRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      live.delete(child);
      const ms = performance.now() - t0;
      if (code !== 0) {
        reject(new Error(`coffer keys rotate exited ${String(code)}: ${stderr.slice(-2000)}`));
        return;
      }
      if (!stdout.includes("finished rotation")) {
        reject(new Error(`coffer keys rotate: unexpected output: ${stdout}`));
        return;
      }
      const line = stderr.split("\n").find((l) => l.startsWith(CHILD_RSS_PREFIX));
      resolve({ ms, maxRssKb: line === undefined ? 0 : Number(line.slice(CHILD_RSS_PREFIX.length)) });
    });
  });
  return { child, done };
}

async function measureGetDuringRotation(
  root: string,
  env: Env,
  c: RotationCounts,
  cleanup: Cleanup,
  activeKid: Kid,
): Promise<{ report: RotationReport["getDuringRotation"]; childMaxRssKb: number; activeKid: Kid }> {
  const live = new Set<ChildProcess>();
  cleanup.add("stop rotation child processes", () => {
    for (const ch of live) if (ch.pid !== undefined) ch.kill("SIGKILL");
  });
  const refs = getRefs(c, 50_000);
  let kid = activeKid;
  let [idleN, idleMs, busyN, busyMs, childMax] = [0, 0, 0, 0, 0];
  const childMs: number[] = [];
  await withCore(env, async (core) => {
    await getLoop(core, refs, 0, (ms) => ms >= 1000); // warm-up, untimed
    let at = 0;
    for (let w = 0; w < c.getWindows; w++) {
      // Busy: child rotations back to back (alternating the active kid) until the window is long enough.
      let busy = true;
      let elapsed = 0;
      const runner = (async () => {
        const t0 = performance.now();
        while (performance.now() - t0 < c.minBusyMs) {
          kid = kid === "k1" ? "k2" : "k1";
          writeKeyring(env, kid, KIDS);
          const r = await spawnRotation(root, env, live).done;
          childMs.push(r.ms);
          childMax = Math.max(childMax, r.maxRssKb);
        }
        busy = false;
      })();
      const b = await getLoop(core, refs, at, () => !busy);
      await runner;
      elapsed = b.ms;
      at += b.n;
      busyN += b.n;
      busyMs += b.ms;
      // Idle: as long as the busy window, nothing else running.
      const i = await getLoop(core, refs, at, (ms) => ms >= elapsed);
      at += i.n;
      idleN += i.n;
      idleMs += i.ms;
      progress(
        `(c) window ${String(w + 1)}: busy ${opsPerSec(b.n, b.ms).toFixed(0)} gets/s over ${b.ms.toFixed(0)} ms, idle ${opsPerSec(i.n, i.ms).toFixed(0)} gets/s`,
      );
    }
  });
  const idle = opsPerSec(idleN, idleMs);
  const busy = opsPerSec(busyN, busyMs);
  const pct = idle === 0 ? 0 : (busy / idle) * 100;
  return {
    report: {
      idleOpsPerSec: idle,
      busyOpsPerSec: busy,
      pct,
      busyMs,
      childRotations: childMs.length,
      childMedianMs: median(childMs),
      targetPct: ROTATION_TARGETS.getDuringRotationMinPct,
      pass: pct >= ROTATION_TARGETS.getDuringRotationMinPct,
    },
    childMaxRssKb: childMax,
    activeKid: kid,
  };
}

// ---------------------------------------------------------------------------------------------

function pair(cofferMs: number[], floorMs: number[]): TimedPair {
  const c = median(cofferMs);
  const f = median(floorMs);
  return { cofferMs, floorMs, cofferMedianMs: c, floorMedianMs: f, ratio: f === 0 ? 0 : c / f };
}

export async function measureRotation(opts: {
  readonly root: string;
  readonly dir: string;
  readonly quick: boolean;
  readonly cleanup: Cleanup;
  /** Shared with the caller, which may add cleanup failures at the end. */
  readonly warnings: string[];
}): Promise<RotationReport> {
  const started = performance.now();
  const host = machine();
  const c = opts.quick ? ROTATION_QUICK : ROTATION_FULL;
  const env: Env = {
    home: join(opts.dir, "rotation-home"),
    keyringFile: join(opts.dir, "keyring.json"),
    keys: { k1: randomBytes(32).toString("base64"), k2: randomBytes(32).toString("base64") },
  };
  writeKeyring(env, "k1", ["k1"]);

  progress(
    `rotation: seeding ${c.secrets.toLocaleString("en-US")} secrets across ${c.owners.toLocaleString("en-US")} owners ` +
      `(${c.rekeyOwnerSecrets.toLocaleString("en-US")} in ${ownerName(0)}), untimed`,
  );
  let t = performance.now();
  await seed(env, c);
  const seedSeconds = (performance.now() - t) / 1000;
  progress(`seed: done in ${seedSeconds.toFixed(1)} s`);
  await verifySample(env, c, "after seeding");
  const rssSeed = maxRssKb();

  t = performance.now();
  const floor = openFloorDb(opts.dir, join(env.home, "coffer.db"), c);
  const floorCopySeconds = (performance.now() - t) / 1000;
  progress(`floor: tables copied and keys wrapped in ${floorCopySeconds.toFixed(1)} s (untimed)`);
  try {
    // (a) KEK rotation, alternating floor and Coffer; the active kid flips each round.
    const aCoffer: number[] = [];
    const aFloor: number[] = [];
    let kid: Kid = "k1";
    for (let r = 0; r < c.rounds; r++) {
      const to: Kid = kid === "k1" ? "k2" : "k1";
      t = performance.now();
      const nf = floor.rotate(to);
      aFloor.push(performance.now() - t);
      writeKeyring(env, to, KIDS);
      const report = await withCore(env, async (core) => {
        const t0 = performance.now();
        const rep = await core.admin.rotation.rotate(ACTOR, LOCAL_CONTEXT, { batchSize: BATCH });
        aCoffer.push(performance.now() - t0);
        return rep;
      });
      if (report.rewrappedScopeKeys !== c.owners || nf !== c.owners)
        throw new Error(
          `(a): rewrapped ${String(report.rewrappedScopeKeys)} (Coffer) / ${String(nf)} (floor), expected ${String(c.owners)}`,
        );
      kid = to;
      progress(`(a) round ${String(r + 1)}: Coffer ${aCoffer.at(-1)!.toFixed(0)} ms, floor ${aFloor.at(-1)!.toFixed(0)} ms (to ${to})`);
    }
    await verifySample(env, c, "after (a)");
    const rssA = maxRssKb();
    const a = pair(aCoffer, aFloor);

    // (b) rekey of the big owner, alternating floor and Coffer.
    const bCoffer: number[] = [];
    const bFloor: number[] = [];
    for (let r = 0; r < c.rounds; r++) {
      t = performance.now();
      const nf = floor.rekey();
      bFloor.push(performance.now() - t);
      const rep = await withCore(env, async (core) => {
        const t0 = performance.now();
        const x = await core.admin.rekey.rekey(ACTOR, LOCAL_CONTEXT, { owner: ownerName(0) });
        bCoffer.push(performance.now() - t0);
        return x;
      });
      if (rep.rewrapped !== c.rekeyOwnerSecrets || nf !== c.rekeyOwnerSecrets)
        throw new Error(
          `(b): rewrapped ${String(rep.rewrapped)} (Coffer) / ${String(nf)} (floor), expected ${String(c.rekeyOwnerSecrets)}`,
        );
      progress(`(b) round ${String(r + 1)}: Coffer ${bCoffer.at(-1)!.toFixed(0)} ms, floor ${bFloor.at(-1)!.toFixed(0)} ms`);
    }
    await verifySample(env, c, "after (b)");
    const rssB = maxRssKb();
    const b = pair(bCoffer, bFloor);

    // (c) masked get, idle and while `coffer keys rotate` runs in another process.
    progress(
      `(c) masked get: ${String(c.getWindows)} windows of >= ${String(c.minBusyMs)} ms during child rotations, each followed by an idle window as long`,
    );
    const g = await measureGetDuringRotation(opts.root, env, c, opts.cleanup, kid);
    await verifySample(env, c, "after (c)");

    return {
      quick: opts.quick,
      machine: host,
      counts: c,
      seedSeconds,
      floorCopySeconds,
      kekRotation: {
        ...a,
        scopeKeys: c.owners,
        targetMs: ROTATION_TARGETS.kekRotationMs,
        pass: a.cofferMedianMs < ROTATION_TARGETS.kekRotationMs,
      },
      rekey: {
        ...b,
        versions: c.rekeyOwnerSecrets,
        targetRatio: ROTATION_TARGETS.rekeyMaxRatio,
        pass: b.ratio <= ROTATION_TARGETS.rekeyMaxRatio,
      },
      getDuringRotation: g.report,
      peakRssMiB: {
        afterSeed: mib(rssSeed),
        afterKekRotation: mib(rssA),
        afterRekey: mib(rssB),
        end: mib(maxRssKb()),
        childMax: mib(g.childMaxRssKb),
      },
      warnings: opts.warnings,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    floor.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Output

const int = (n: number): string => Math.round(n).toLocaleString("en-US");
const verdict = (pass: boolean): string => (pass ? "PASS" : "MISS");

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((s, i) => (i === 0 ? s.padEnd(widths[i] ?? 0) : s.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function formatRotationText(r: RotationReport): string {
  const m = r.machine;
  const c = r.counts;
  const spread = (xs: readonly number[]): string => xs.map((x) => x.toFixed(0)).join(" / ");
  const a = r.kekRotation;
  const b = r.rekey;
  const g = r.getDuringRotation;
  const out = [
    `Coffer rotation benchmark${r.quick ? " (--quick)" : ""}: sqlite, Node ${m.node}, ${m.platform}, ${String(m.cores)} x ${m.cpu}, ${String(m.memGiB)} GiB, load ${m.loadAvg.toFixed(2)}`,
    `${int(c.secrets)} secrets across ${int(c.owners)} owners (${int(c.rekeyOwnerSecrets)} in the rekeyed owner); seeded in ${r.seedSeconds.toFixed(1)} s ` +
      `(untimed: scope keys through Coffer, rows sealed by Coffer's sealToColumns, written with prepared statements); floor tables copied in ${r.floorCopySeconds.toFixed(1)} s`,
    `floor = bare better-sqlite3 on copies of Coffer's tables (same DDL and pragmas) + AES-256-GCM with KeyObject keys; ` +
      `${String(c.rounds)} alternating rounds, medians (each round: ms floor / Coffer)`,
    "",
    table(
      ["operation", "rows", "Coffer ms", "floor ms", "Coffer/floor", "rounds Coffer ms", "rounds floor ms", "target", "result"],
      [
        [
          `(a) KEK rotation, batches of ${String(BATCH)}`,
          int(a.scopeKeys),
          a.cofferMedianMs.toFixed(0),
          a.floorMedianMs.toFixed(0),
          `${a.ratio.toFixed(2)}x`,
          spread(a.cofferMs),
          spread(a.floorMs),
          `< ${String(a.targetMs)} ms`,
          verdict(a.pass),
        ],
        [
          "(b) owner rekey, one transaction",
          int(b.versions),
          b.cofferMedianMs.toFixed(0),
          b.floorMedianMs.toFixed(0),
          `${b.ratio.toFixed(2)}x`,
          spread(b.cofferMs),
          spread(b.floorMs),
          `<= ${String(b.targetRatio)}x`,
          verdict(b.pass),
        ],
      ],
    ),
    "",
    table(
      ["masked get", "idle gets/s", "during rotation gets/s", "during/idle", "target", "result"],
      [
        [
          "(c) while `coffer keys rotate` runs in another process",
          int(g.idleOpsPerSec),
          int(g.busyOpsPerSec),
          `${g.pct.toFixed(1)}%`,
          `>= ${String(g.targetPct)}%`,
          verdict(g.pass),
        ],
      ],
    ),
    `(c): ${String(g.childRotations)} child rotations of ${int(c.owners)} scope keys (median ${g.childMedianMs.toFixed(0)} ms each, Node start-up included) during ${(g.busyMs / 1000).toFixed(1)} s of gets`,
    "",
    `peak RSS (MiB): bench process ${String(r.peakRssMiB.end)} (after seeding ${String(r.peakRssMiB.afterSeed)}, after (a) ${String(r.peakRssMiB.afterKekRotation)}, after (b) ${String(r.peakRssMiB.afterRekey)}); ` +
      `largest rotation child ${String(r.peakRssMiB.childMax)}`,
  ];
  for (const w of r.warnings) out.push(`warning: ${w}`);
  const missed = [...(a.pass ? [] : ["(a)"]), ...(b.pass ? [] : ["(b)"]), ...(g.pass ? [] : ["(c)"])];
  out.push(`${missed.length === 0 ? "all targets met" : `missed: ${missed.join(", ")}`} (${r.seconds.toFixed(0)} s)`);
  return out.join("\n");
}
