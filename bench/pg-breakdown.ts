// `--db postgres`: where the time of an operation goes, per side, measured during the timed
// rounds themselves: round trips per operation (exact), this process's CPU, the PostgreSQL
// backends' CPU, and the rest of the wall time (waiting: loopback, wake-ups, other processes).
import { readFileSync } from "node:fs";
import pg from "pg";
import type { RangeFn } from "./common.ts";

/**
 * Every query a pg `Client` runs is one round trip: pg sends the next only after the server's
 * ReadyForQuery for the previous (a multi-statement simple query, or a Submittable that
 * pipelines several statements before one Sync, is still one). The counter wraps
 * `Client.prototype.query` once for the bench process, and counts per backend process id
 * (`Client.processID`), which also names the backends whose CPU is read.
 */
const queriesByPid = new Map<number, number>();
let installed = false;

export function installRoundTripCounter(): void {
  if (installed) return;
  installed = true;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown; processID?: number | null };
  const original = proto.query;
  proto.query = function (this: { processID?: number | null }, ...args: unknown[]): unknown {
    const pid = this.processID ?? 0;
    queriesByPid.set(pid, (queriesByPid.get(pid) ?? 0) + 1);
    return original.apply(this, args);
  };
}

/**
 * A backend's on-CPU time in nanoseconds (`/proc/<pid>/schedstat`, first field), or null when
 * it cannot be read here: a server on another machine (DATABASE_URL), or a process that is not
 * a PostgreSQL backend under that id.
 */
function backendCpuNs(pid: number): number | null {
  try {
    if (!readFileSync(`/proc/${String(pid)}/comm`, "utf8").startsWith("postgres")) return null;
    const first = readFileSync(`/proc/${String(pid)}/schedstat`, "utf8").split(" ", 1)[0] ?? "";
    const ns = Number(first);
    return Number.isFinite(ns) ? ns : null;
  } catch {
    return null;
  }
}

/** The CPU of every backend seen so far that can be read here (closed connections drop out). */
function serverCpuNs(): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of queriesByPid.keys()) {
    const ns = pid > 0 ? backendCpuNs(pid) : null;
    if (ns !== null) out.set(pid, ns);
  }
  return out;
}

export type SideBreakdown = {
  readonly ops: number;
  readonly roundTripsPerOp: number;
  readonly wallUsPerOp: number;
  /** This process's CPU (all its threads: the event loop, GC, libuv) per operation. */
  readonly clientCpuUsPerOp: number;
  /** The backends' CPU per operation; null when the server's processes cannot be read here. */
  readonly serverCpuUsPerOp: number | null;
};

type Acc = { ops: number; queries: number; wallMs: number; clientUs: number; serverNs: number; serverKnown: boolean };

/**
 * Wraps one side's range function to add up its slices. The counters are read before and after
 * each slice (a few small /proc reads, well under 0.1% of a slice); both sides are wrapped alike.
 */
export function probeSide(fn: RangeFn): { readonly fn: RangeFn; result(): SideBreakdown } {
  const acc: Acc = { ops: 0, queries: 0, wallMs: 0, clientUs: 0, serverNs: 0, serverKnown: true };
  return {
    fn: async (from, to) => {
      const q0 = new Map(queriesByPid);
      const s0 = serverCpuNs();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await fn(from, to);
      const wall = performance.now() - t0;
      const c = process.cpuUsage(c0);
      const s1 = serverCpuNs();
      acc.ops += to - from;
      acc.wallMs += wall;
      acc.clientUs += c.user + c.system;
      // The backends that served this slice are those whose clients ran queries in it (the
      // other side is idle meanwhile); each must be readable before and after, else the
      // server's share is unknown (a server elsewhere, or a connection opened mid-slice).
      for (const [pid, n] of queriesByPid) {
        const ran = n - (q0.get(pid) ?? 0);
        if (ran === 0) continue;
        acc.queries += ran;
        const before = s0.get(pid);
        const after = s1.get(pid);
        if (before === undefined || after === undefined) acc.serverKnown = false;
        else acc.serverNs += after - before;
      }
    },
    result: () => {
      const per = (x: number): number => (acc.ops === 0 ? 0 : x / acc.ops);
      return {
        ops: acc.ops,
        roundTripsPerOp: per(acc.queries),
        wallUsPerOp: per(acc.wallMs * 1000),
        clientCpuUsPerOp: per(acc.clientUs),
        serverCpuUsPerOp: acc.serverKnown ? per(acc.serverNs / 1000) : null,
      };
    },
  };
}
