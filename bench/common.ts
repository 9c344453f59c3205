// Shared pieces of the benchmark: options, the workload (keys, values, read order) and timing.
import { randomBytes } from "node:crypto";

/** Databases the bench runs on (`--db`). */
export const DIALECTS = ["sqlite", "postgres"] as const;
export type Dialect = (typeof DIALECTS)[number];

/**
 * Where a run's data lives. SQLite: files under the bench home. PostgreSQL: `url` names a
 * database created for this run (owner role, may create roles for Coffer's first migration).
 */
export type BenchDb = { readonly dialect: "sqlite" } | { readonly dialect: "postgres"; readonly url: string };

/** The single owner every benchmarked secret belongs to, and its stored columns. */
export const OWNER = "project/bench";
export const OWNER_TYPE = "project";
export const OWNER_ID = "bench";
/** Who acts, in Coffer and in the floor's `created_by` column. */
export const ACTOR_USER = "bench";
/** Plaintext size of every value (64 ASCII chars = 64 bytes). */
export const VALUE_BYTES = 64;

export type Counts = {
  /** Secrets written by `set` and read by `get`. */
  readonly secrets: number;
  /** Secrets decrypted by `reveal`. */
  readonly reveals: number;
  /** Timed child processes per command for the start-up figure. */
  readonly startupRuns: number;
  /** Untimed child processes per command before that. */
  readonly startupWarmup: number;
  /** Secrets in the owner that `coffer run` loads. */
  readonly runSecrets: number;
  /** Operations per case for the Buffer vs KeyObject comparison. */
  readonly keyOps: number;
  /** Floor and Coffer alternate in this many rounds, so drift on the machine hits both alike. */
  readonly rounds: number;
  /** PostgreSQL only: `get` with concurrent callers over a pool of 1 and of 8 connections. */
  readonly pool: PoolCounts | null;
};

export type PoolCounts = {
  /** `get` calls per pool size. */
  readonly ops: number;
  /** Callers with a request in flight at all times, the same for every pool size. */
  readonly workers: number;
  /** The pool sizes compared: the first is the baseline. */
  readonly sizes: readonly [number, number];
};

export const FULL_COUNTS: Counts = {
  secrets: 100_000,
  reveals: 10_000,
  startupRuns: 20,
  startupWarmup: 3,
  runSecrets: 100,
  keyOps: 100_000,
  rounds: 10,
  pool: null,
};

export const QUICK_COUNTS: Counts = {
  secrets: 5_000,
  reveals: 1_000,
  startupRuns: 8,
  startupWarmup: 2,
  runSecrets: 100,
  keyOps: 20_000,
  rounds: 5,
  pool: null,
};

/**
 * PostgreSQL: every operation is several network round trips, so the counts are smaller than
 * SQLite's, to keep the full run within about 3 minutes on 2 cores. `run` start-up is not
 * measured there (its counts are unused).
 */
export const POSTGRES_FULL_COUNTS: Counts = {
  ...FULL_COUNTS,
  secrets: 20_000,
  reveals: 2_000,
  pool: { ops: 20_000, workers: 16, sizes: [1, 8] },
};

export const POSTGRES_QUICK_COUNTS: Counts = {
  ...QUICK_COUNTS,
  secrets: 2_000,
  reveals: 500,
  pool: { ops: 2_000, workers: 16, sizes: [1, 8] },
};

export function countsFor(dialect: Dialect, quick: boolean): Counts {
  if (dialect === "postgres") return quick ? POSTGRES_QUICK_COUNTS : POSTGRES_FULL_COUNTS;
  return quick ? QUICK_COUNTS : FULL_COUNTS;
}

/** What both sides write and read: the same names, the same values, the same read order. */
export type Workload = {
  readonly keys: readonly string[];
  readonly values: readonly string[];
  /** A fixed permutation of 0..n-1: reads visit the table scattered, not in insertion order. */
  readonly order: readonly number[];
};

export function keyName(i: number): string {
  return `BENCH_KEY_${String(i).padStart(6, "0")}`;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

export function makeWorkload(n: number): Workload {
  const keys: string[] = [];
  const values: string[] = [];
  for (let i = 0; i < n; i++) {
    keys.push(keyName(i));
    values.push(randomBytes((VALUE_BYTES * 3) / 4).toString("base64"));
  }
  let stride = Math.max(1, Math.floor(n * 0.618));
  while (gcd(stride, n) !== 1) stride++;
  const order: number[] = [];
  for (let j = 0; j < n; j++) order.push((j * stride) % n);
  return { keys, values, order };
}

/**
 * Lets the event loop run. Coffer's calls on SQLite resolve as microtasks only, so a loop of
 * them never reaches the event loop: without this, Ctrl-C would wait for the whole phase.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs the operations with indices `from` (inclusive) to `to` (exclusive). */
export type RangeFn = (from: number, to: number) => void | Promise<void>;

export type PairTiming = { readonly floorMs: number; readonly cofferMs: number; readonly ops: number };

/**
 * Times `n` operations on each side, the sides taking turns in `rounds` slices of the same
 * index ranges, so a busy neighbour or a warming CPU affects all of them the same way.
 * `afterRound`, if given, runs untimed after each round. Returns each side's total
 * milliseconds, in the order of `sides`.
 */
export async function timeRounds(
  n: number,
  rounds: number,
  sides: readonly RangeFn[],
  afterRound?: () => void | Promise<void>,
): Promise<number[]> {
  const ms = sides.map(() => 0);
  const slice = Math.ceil(n / rounds);
  for (let from = 0; from < n; from += slice) {
    const to = Math.min(n, from + slice);
    for (const [k, side] of sides.entries()) {
      const t = performance.now();
      await side(from, to);
      ms[k]! += performance.now() - t;
    }
    await afterRound?.();
    await yieldToEventLoop();
  }
  return ms;
}

/** `timeRounds` for the usual pair: floor first, then Coffer, in each round. */
export async function timeInterleaved(
  n: number,
  rounds: number,
  floor: RangeFn,
  coffer: RangeFn,
  afterRound?: () => void | Promise<void>,
): Promise<PairTiming> {
  const [floorMs = 0, cofferMs = 0] = await timeRounds(n, rounds, [floor, coffer], afterRound);
  return { floorMs, cofferMs, ops: n };
}

/**
 * Runs operations `from`..`to` with `workers` callers each keeping one operation in flight:
 * a caller takes the next index as soon as its previous operation has finished.
 */
export async function runConcurrent(
  from: number,
  to: number,
  workers: number,
  op: (index: number, worker: number) => Promise<unknown>,
): Promise<void> {
  let next = from;
  const caller = async (worker: number): Promise<void> => {
    while (next < to) await op(next++, worker);
  };
  await Promise.all(Array.from({ length: workers }, (_, w) => caller(w)));
}

export function opsPerSec(ops: number, ms: number): number {
  return ms <= 0 ? 0 : (ops * 1000) / ms;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The line bench/child-rss.ts writes on a child's stderr: its peak RSS in KiB. */
export const CHILD_RSS_PREFIX = "coffer-bench-child-maxrss-kb=";

/** Progress goes to stderr, so `--json` output on stdout stays clean. */
export function progress(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}
