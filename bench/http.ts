// `npm run bench -- --http`: a real `coffer serve` on 127.0.0.1 (SQLite) loaded by autocannon
// from a separate process, for masked GET, reveal (with its audit write) and PUT, beside the
// floor of the same run: a bare Fastify route doing one SQLite select + one AES-GCM decrypt.
// Everything runs on this machine's 2 cores: server, floor and load generator share them, as
// they would on a small VM; the ratio is what matters. See docs/benchmarks.md.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CofferClient } from "../src/sdk/index.ts";
import { progress } from "./common.ts";
import { machine } from "./report.ts";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SECRETS = 1000;
const CONNECTIONS = 50;

/** Issue 16's targets at 50 connections: throughput as a share of the floor, and p99 latency. */
const TARGETS = {
  get: { pct: 60, p99Ms: 10 },
  reveal: { pct: 35, p99Ms: 25 },
  put: { pct: 20, p99Ms: null },
} as const satisfies Record<string, { pct: number; p99Ms: number | null }>;

export type HttpCase = {
  readonly op: "get" | "reveal" | "put";
  /** Requests per second over all of Coffer's slices (total requests / total time). */
  readonly rps: number;
  /** Median over the slices of each slice's p50 / p99 (autocannon reports percentiles per run). */
  readonly p50: number;
  readonly p99: number;
  /** The worst slice's p99. */
  readonly p99Max: number;
  readonly floorRps: number;
  readonly floorP99: number;
  readonly ratioPct: number;
  readonly targetPct: number;
  readonly p99TargetMs: number | null;
  readonly pass: boolean;
  readonly non2xx: number;
  readonly errors: number;
};
export type HttpReport = {
  /** `loadAvg`: the 1-minute load average at the start. */
  readonly machine: ReturnType<typeof machine>;
  readonly loadAvgEnd: number;
  readonly connections: number;
  /** Floor and Coffer alternate: `slices` runs of `sliceSeconds` each, per side and case. */
  readonly slices: number;
  readonly sliceSeconds: number;
  readonly logging: string;
  readonly cases: readonly HttpCase[];
};

export type Load = { rps: number; p50: number; p99: number; non2xx: number; errors: number; total: number; seconds: number };

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

/** One side's slices as one figure: throughput over all of them; median and worst percentiles. */
export function combine(xs: readonly Load[]): { rps: number; p50: number; p99: number; p99Max: number; non2xx: number; errors: number } {
  const total = xs.reduce((n, x) => n + x.total, 0);
  const seconds = xs.reduce((n, x) => n + x.seconds, 0);
  return {
    rps: seconds > 0 ? total / seconds : 0,
    p50: median(xs.map((x) => x.p50)),
    p99: median(xs.map((x) => x.p99)),
    p99Max: Math.max(...xs.map((x) => x.p99)),
    non2xx: xs.reduce((n, x) => n + x.non2xx, 0),
    errors: xs.reduce((n, x) => n + x.errors, 0),
  };
}

export function startChild(
  args: readonly string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ proc: ChildProcess; match: RegExpExecArray; out: () => string }> {
  const proc = spawn(process.execPath, [...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`${args.join(" ")} did not start: ${out}`));
    }, 60_000);
    proc.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const m = ready.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ proc, match: m, out: () => out });
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(" ")} exited with ${String(code)}: ${out}`));
    });
  });
}

export function load(cfg: Record<string, unknown>): Promise<Load> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(ROOT, "bench", "http-load.ts"), JSON.stringify(cfg)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    p.on("exit", (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${String(code)}`));
      else resolve(JSON.parse(out) as Load);
    });
  });
}

export async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(t);
}

export async function measureHttp(quick: boolean): Promise<HttpReport> {
  const slices = quick ? 3 : 5;
  const sliceSeconds = quick ? 1 : 2;
  const host = machine();
  const dir = mkdtempSync(join(tmpdir(), "coffer-bench-http-"));
  const started: ChildProcess[] = [];
  try {
    progress("starting coffer serve (SQLite) and the floor server");
    const srv = await startChild(
      [join(ROOT, "bin", "coffer.js"), "serve", "--port", "0"],
      { COFFER_HOME: join(dir, "home"), COFFER_KEK_PROVIDER: "file", COFFER_RATE_LIMIT_REVEAL: "off", COFFER_RATE_LIMIT_WRITE: "off" },
      /coffer listening on (http:\/\/\S+)\n[^\n]*\n(coffer_[A-Za-z0-9_-]{43})\n/,
    );
    started.push(srv.proc);
    const floor = await startChild([join(ROOT, "bench", "http-floor.ts"), join(dir, "floor.db"), String(SECRETS)], {}, /listening (\d+)\n/);
    started.push(floor.proc);
    const url = srv.match[1] ?? "";
    const token = srv.match[2] ?? "";
    const floorUrl = `http://127.0.0.1:${floor.match[1] ?? ""}`;
    const sdk = new CofferClient({ baseUrl: url, token });
    progress(`seeding ${String(SECRETS)} secrets through the API`);
    for (let i = 0; i < SECRETS; i++) await sdk.putSecret("project/bench", `K${String(i)}`, { value: "v".repeat(64) });

    const loadFloor = { url: floorUrl, method: "GET", path: "/floor/{i}" } as const;
    const loadCase: Record<HttpCase["op"], Record<string, unknown>> = {
      get: { url, method: "GET", path: "/v1/secrets/project/bench/K{i}", token },
      reveal: { url, method: "POST", path: "/v1/secrets/project/bench/K{i}:reveal", token, body: JSON.stringify({ reason: "bench" }) },
      put: { url, method: "PUT", path: "/v1/secrets/project/bench/K{i}", token, body: JSON.stringify({ value: "w".repeat(64) }) },
    };
    // Warm both (JIT, caches), untimed.
    await load({ ...loadFloor, connections: 10, seconds: 1, spread: SECRETS });
    await load({ ...loadCase.get, connections: 10, seconds: 1, spread: SECRETS });
    const cases: HttpCase[] = [];
    for (const op of ["get", "reveal", "put"] as const) {
      // Floor and Coffer alternate in slices, so a change in the machine's load hits both alike.
      progress(
        `${op}: ${String(slices)} slices of ${String(sliceSeconds)} s each side, floor and Coffer alternating, ${String(CONNECTIONS)} connections`,
      );
      const floorSlices: Load[] = [];
      const cofferSlices: Load[] = [];
      for (let i = 0; i < slices; i++) {
        floorSlices.push(await load({ ...loadFloor, connections: CONNECTIONS, seconds: sliceSeconds, spread: SECRETS }));
        cofferSlices.push(await load({ ...loadCase[op], connections: CONNECTIONS, seconds: sliceSeconds, spread: SECRETS }));
      }
      const f = combine(floorSlices);
      const c = combine(cofferSlices);
      const target = TARGETS[op];
      const ratioPct = (c.rps / f.rps) * 100;
      cases.push({
        op,
        rps: c.rps,
        p50: c.p50,
        p99: c.p99,
        p99Max: c.p99Max,
        floorRps: f.rps,
        floorP99: f.p99,
        ratioPct,
        targetPct: target.pct,
        p99TargetMs: target.p99Ms,
        pass: ratioPct >= target.pct && (target.p99Ms === null || c.p99 < target.p99Ms),
        non2xx: c.non2xx,
        errors: c.errors,
      });
      progress(
        `${op}: ${c.rps.toFixed(0)} req/s (floor ${f.rps.toFixed(0)}, ${ratioPct.toFixed(1)}%), p50 ${String(c.p50)} ms, p99 ${String(c.p99)} ms`,
      );
    }
    return {
      machine: host,
      loadAvgEnd: Math.round((loadavg()[0] ?? 0) * 100) / 100,
      connections: CONNECTIONS,
      slices,
      sliceSeconds,
      logging: "info (request logs on, to /dev/null)",
      cases,
    };
  } finally {
    for (const p of started) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatHttpText(r: HttpReport): string {
  const lines = [
    `HTTP API on SQLite: ${String(r.connections)} connections; floor and Coffer alternate in ${String(r.slices)} slices of ${String(r.sliceSeconds)} s per side and case; autocannon in its own process`,
    `${String(r.machine.cores)} x ${r.machine.cpu}, node ${r.machine.node}, load average ${r.machine.loadAvg.toFixed(2)} at the start, ${r.loadAvgEnd.toFixed(2)} at the end`,
    "floor: a bare Fastify route doing one SQLite select + one AES-256-GCM decrypt (no auth, no audit, no logs)",
    "p50/p99: median over the slices (worst slice's p99 in brackets)",
    "",
    "op       req/s    p50 ms  p99 ms (max)   floor req/s  floor p99  ratio   target                 result",
  ];
  for (const c of r.cases) {
    const target = `>= ${String(c.targetPct)}%${c.p99TargetMs === null ? "" : `, p99 < ${String(c.p99TargetMs)} ms`}`;
    lines.push(
      `${c.op.padEnd(8)} ${c.rps.toFixed(0).padStart(6)}  ${String(c.p50).padStart(6)}  ${String(c.p99).padStart(6)} (${String(c.p99Max).padStart(4)})   ${c.floorRps.toFixed(0).padStart(11)}  ${String(c.floorP99).padStart(9)}  ${c.ratioPct.toFixed(1).padStart(5)}%  ${target.padEnd(22)} ${c.pass ? "PASS" : "MISS"}${c.non2xx + c.errors > 0 ? `  (${String(c.non2xx)} non-2xx, ${String(c.errors)} errors!)` : ""}`,
    );
  }
  return lines.join("\n");
}
