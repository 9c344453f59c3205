// `npm run bench -- --http`: a real `coffer serve` on 127.0.0.1 (SQLite) loaded by autocannon
// from a separate process, for masked GET, reveal (with its audit write) and PUT, beside the
// floor of the same run: a bare Fastify route doing one SQLite select + one AES-GCM decrypt.
// Everything runs on this machine's 2 cores: server, floor and load generator share them, as
// they would on a small VM; the ratio is what matters. See docs/benchmarks.md.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CofferClient } from "../src/sdk/index.ts";
import { progress } from "./common.ts";
import { machine } from "./report.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SECRETS = 1000;
const CONNECTIONS = 50;

export type HttpCase = {
  readonly op: "get" | "reveal" | "put";
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly floorRps: number;
  readonly floorP99: number;
  readonly ratioPct: number;
  readonly targetPct: number | null;
  readonly non2xx: number;
  readonly errors: number;
};
export type HttpReport = {
  readonly machine: ReturnType<typeof machine>;
  readonly connections: number;
  readonly seconds: number;
  readonly logging: string;
  readonly cases: readonly HttpCase[];
  readonly p99TargetMs: number;
};

type Load = { rps: number; p50: number; p99: number; non2xx: number; errors: number; total: number };

function startChild(
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

function load(cfg: Record<string, unknown>): Promise<Load> {
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

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(t);
}

export async function measureHttp(quick: boolean): Promise<HttpReport> {
  const seconds = quick ? 3 : 10;
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

    const run = async (what: string, cfg: Record<string, unknown>): Promise<Load> => {
      progress(`${what}: ${String(CONNECTIONS)} connections for ${String(seconds)} s`);
      const r = await load({ connections: CONNECTIONS, seconds, spread: SECRETS, ...cfg });
      progress(`${what}: ${r.rps.toFixed(0)} req/s, p50 ${String(r.p50)} ms, p99 ${String(r.p99)} ms`);
      return r;
    };
    // Warm both (JIT, caches), untimed.
    await load({ url: floorUrl, method: "GET", path: "/floor/{i}", connections: 10, seconds: 1, spread: SECRETS });
    await load({ url, method: "GET", path: "/v1/secrets/project/bench/K{i}", token, connections: 10, seconds: 1, spread: SECRETS });
    const floorLoad = await run("floor (select + decrypt)", { url: floorUrl, method: "GET", path: "/floor/{i}" });
    const get = await run("masked GET", { url, method: "GET", path: "/v1/secrets/project/bench/K{i}", token });
    const reveal = await run("reveal", {
      url,
      method: "POST",
      path: "/v1/secrets/project/bench/K{i}:reveal",
      token,
      body: JSON.stringify({ reason: "bench" }),
    });
    const put = await run("PUT", {
      url,
      method: "PUT",
      path: "/v1/secrets/project/bench/K{i}",
      token,
      body: JSON.stringify({ value: "w".repeat(64) }),
    });
    const targets = { get: 50, reveal: 30, put: null } as const;
    const cases: HttpCase[] = (
      [
        ["get", get],
        ["reveal", reveal],
        ["put", put],
      ] as const
    ).map(([op, r]) => ({
      op,
      rps: r.rps,
      p50: r.p50,
      p99: r.p99,
      floorRps: floorLoad.rps,
      floorP99: floorLoad.p99,
      ratioPct: (r.rps / floorLoad.rps) * 100,
      targetPct: targets[op],
      non2xx: r.non2xx,
      errors: r.errors,
    }));
    return {
      machine: machine(),
      connections: CONNECTIONS,
      seconds,
      logging: "info (request logs on, to /dev/null)",
      cases,
      p99TargetMs: 10,
    };
  } finally {
    for (const p of started) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatHttpText(r: HttpReport): string {
  const lines = [
    `HTTP API on SQLite: ${String(r.connections)} connections, ${String(r.seconds)} s per case, autocannon in its own process; ${String(r.machine.cores)} x ${r.machine.cpu}, node ${r.machine.node}, load ${r.machine.loadAvg.toFixed(2)}`,
    "floor: a bare Fastify route doing one SQLite select + one AES-256-GCM decrypt (no auth, no audit, no logs)",
    "",
    "op       req/s    p50 ms  p99 ms   floor req/s  floor p99  ratio   target          p99 < 10 ms",
  ];
  for (const c of r.cases) {
    const target = c.targetPct === null ? "(none)" : `>= ${String(c.targetPct)}% ${c.ratioPct >= c.targetPct ? "PASS" : "MISS"}`;
    lines.push(
      `${c.op.padEnd(8)} ${c.rps.toFixed(0).padStart(6)}  ${String(c.p50).padStart(6)}  ${String(c.p99).padStart(6)}   ${c.floorRps.toFixed(0).padStart(11)}  ${String(c.floorP99).padStart(9)}  ${c.ratioPct.toFixed(1).padStart(5)}%  ${target.padEnd(14)}  ${c.p99 < r.p99TargetMs ? "PASS" : "MISS"}${c.non2xx + c.errors > 0 ? `  (${String(c.non2xx)} non-2xx, ${String(c.errors)} errors!)` : ""}`,
    );
  }
  return lines.join("\n");
}
