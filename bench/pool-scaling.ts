// PostgreSQL: does `get` throughput grow with the connection pool? Coffer with a pool of 1 and of
// 8 connections, and the bare floor with 1 and 8 connections, each under the same concurrent load.
import { ACTOR, openCofferCore } from "./coffer-ops.ts";
import {
  OWNER,
  opsPerSec,
  progress,
  runConcurrent,
  timeRounds,
  type BenchDb,
  type PoolCounts,
  type RangeFn,
  type Workload,
} from "./common.ts";
import { openFloorReaders } from "./floor-postgres.ts";
import { LOCAL_CONTEXT } from "../src/core/service/index.ts";

/** The target: throughput with the larger pool over throughput with one connection. */
export const POOL_TARGET_RATIO = 1;

export type PoolSide = {
  /** ops/s with each pool size, in the order of `sizes`. */
  readonly opsPerSec: readonly [number, number];
  /** Larger pool over smaller pool. */
  readonly scaling: number;
};

export type PoolScaling = {
  readonly ops: number;
  readonly workers: number;
  readonly sizes: readonly [number, number];
  readonly coffer: PoolSide;
  readonly floor: PoolSide;
  /** Coffer's throughput as a percentage of the floor's, at each pool size. */
  readonly cofferVsFloorPct: readonly [number, number];
  /** Coffer's scaling must exceed this. */
  readonly targetScaling: number;
  readonly pass: boolean;
};

function side(ops: number, msSmall: number, msLarge: number): PoolSide {
  const small = opsPerSec(ops, msSmall);
  const large = opsPerSec(ops, msLarge);
  return { opsPerSec: [small, large], scaling: small === 0 ? 0 : large / small };
}

/**
 * `c.workers` callers each keep one `get` in flight, on: Coffer with `COFFER_DB_POOL_MAX` = the
 * small and the large size (two cores on the same database and master key), and the floor with
 * that many bare connections. The four take turns in `rounds` slices of the same read order.
 */
export async function measurePoolScaling(
  db: Extract<BenchDb, { dialect: "postgres" }>,
  home: string,
  w: Workload,
  c: PoolCounts,
  rounds: number,
): Promise<PoolScaling> {
  const closers: (() => Promise<void>)[] = [];
  try {
    const sides: RangeFn[] = [];
    for (const size of c.sizes) {
      const core = await openCofferCore(db, home, size);
      closers.push(() => core.close());
      sides.push((from, to) =>
        runConcurrent(from, to, c.workers, (j) =>
          core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner: OWNER, key: w.keys[w.order[j % w.order.length]!]! }),
        ),
      );
    }
    for (const size of c.sizes) {
      const floor = await openFloorReaders(db.url, size, w);
      closers.push(() => floor.close());
      sides.push((from, to) => floor.get(from, to, c.workers));
    }
    // Warm-up: opens every pool's connections and prepares the floor's statement on each.
    const warm = Math.min(c.ops, 1000);
    for (const s of sides) await s(0, warm);
    progress(
      `pool: ${c.ops.toLocaleString("en-US")} gets per case, ${String(c.workers)} concurrent callers, ` +
        `Coffer pool ${c.sizes.join(" / ")} and floor ${c.sizes.join(" / ")} connections taking turns`,
    );
    const [c1 = 0, c8 = 0, f1 = 0, f8 = 0] = await timeRounds(c.ops, rounds, sides);
    const coffer = side(c.ops, c1, c8);
    const floor = side(c.ops, f1, f8);
    progress(
      `pool: Coffer ${coffer.opsPerSec.map((x) => x.toFixed(0)).join(" -> ")}/s (${coffer.scaling.toFixed(2)}x), ` +
        `floor ${floor.opsPerSec.map((x) => x.toFixed(0)).join(" -> ")}/s (${floor.scaling.toFixed(2)}x)`,
    );
    const pct = (k: 0 | 1): number => (floor.opsPerSec[k] === 0 ? 0 : (coffer.opsPerSec[k] / floor.opsPerSec[k]) * 100);
    return {
      ops: c.ops,
      workers: c.workers,
      sizes: c.sizes,
      coffer,
      floor,
      cofferVsFloorPct: [pct(0), pct(1)],
      targetScaling: POOL_TARGET_RATIO,
      pass: coffer.scaling > POOL_TARGET_RATIO,
    };
  } finally {
    for (const close of closers.reverse()) await close();
  }
}
