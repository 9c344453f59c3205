// Shared pieces of the benchmark: options, the workload (keys, values, read order) and timing.
import { randomBytes } from "node:crypto";

/** Databases the bench knows of. Only SQLite runs today; the rest are planned (`--db postgres`). */
export const KNOWN_DIALECTS = ["sqlite", "postgres"] as const;
export const SUPPORTED_DIALECTS = ["sqlite"] as const;
export type Dialect = (typeof SUPPORTED_DIALECTS)[number];

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
};

export const FULL_COUNTS: Counts = {
  secrets: 100_000,
  reveals: 10_000,
  startupRuns: 20,
  startupWarmup: 3,
  runSecrets: 100,
  keyOps: 100_000,
  rounds: 10,
};

export const QUICK_COUNTS: Counts = {
  secrets: 5_000,
  reveals: 1_000,
  startupRuns: 8,
  startupWarmup: 2,
  runSecrets: 100,
  keyOps: 20_000,
  rounds: 5,
};

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
 * Times `n` operations on each side, alternating floor and Coffer in `rounds` slices of the
 * same index ranges, so a busy neighbour or a warming CPU affects both the same way.
 */
export async function timeInterleaved(n: number, rounds: number, floor: RangeFn, coffer: RangeFn): Promise<PairTiming> {
  let floorMs = 0;
  let cofferMs = 0;
  const slice = Math.ceil(n / rounds);
  for (let from = 0; from < n; from += slice) {
    const to = Math.min(n, from + slice);
    let t = performance.now();
    await floor(from, to);
    floorMs += performance.now() - t;
    t = performance.now();
    await coffer(from, to);
    cofferMs += performance.now() - t;
    await yieldToEventLoop();
  }
  return { floorMs, cofferMs, ops: n };
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

/** Progress goes to stderr, so `--json` output on stdout stays clean. */
export function progress(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}
