// `npm run bench -- --http --memory` and `npm run bench -- --http --db postgres` (issue 16):
// - memory: RSS of one `coffer serve` (SQLite) holding 100,000 secrets (quick: 10,000) after
//   two consecutive rounds of mixed load (masked GET, list, reveal), to show it does not grow;
// - two servers: masked GET and reveal throughput of one `coffer serve` on PostgreSQL and of
//   two on the same database, the load generator spreading its connections over both.
// Real processes on 127.0.0.1 only; every process started here is stopped by its handle.
import type { ChildProcess } from "node:child_process";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Cleanup } from "./cleanup.ts";
import { progress } from "./common.ts";
import { combine, load, ROOT, startChild, stop, type Load } from "./http.ts";
import { preparePostgres } from "./pg-server.ts";
import { machine } from "./report.ts";

const CONNECTIONS = 50;
const LISTENING = /coffer listening on (http:\/\/\S+)\n[^\n]*\n(coffer_[A-Za-z0-9_-]{43})\n/;
const LISTENING_NO_TOKEN = /coffer listening on (http:\/\/\S+)\n/;
const KEK = Buffer.alloc(32, 7).toString("base64");
const BIN = join(ROOT, "bin", "coffer.js");

/** Resident set size of a process, MiB (Linux /proc). */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(pid)}/status`, "utf8"));
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}

/** Seeds `n` secrets into `owner` through the import endpoint, 2,000 per request (one transaction each). */
async function seed(url: string, token: string, owner: string, n: number): Promise<void> {
  const batch = 2000;
  for (let from = 0; from < n; from += batch) {
    const lines: string[] = [];
    for (let i = from; i < Math.min(n, from + batch); i++) lines.push(`K${String(i)}=${"v".repeat(64)}`);
    const res = await fetch(`${url}/v1/secrets:import`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        owner,
        format: "dotenv",
        allowPlaintext: true,
        content: Buffer.from(`${lines.join("\n")}\n`).toString("base64"),
      }),
    });
    if (res.status !== 200) throw new Error(`seeding failed: ${String(res.status)} ${await res.text()}`);
    if (from % 20_000 === 0) progress(`seeded ${String(Math.min(n, from + batch))} of ${String(n)}`);
  }
}

export type MemoryReport = {
  readonly machine: ReturnType<typeof machine>;
  readonly loadAvgEnd: number;
  readonly secrets: number;
  readonly roundSeconds: number;
  /** RSS in MiB: right after start, after seeding, after each round of mixed load. */
  readonly rssMiB: { readonly started: number; readonly seeded: number; readonly rounds: readonly number[] };
  readonly requests: readonly number[];
  readonly errors: number;
  /** Growth from the first round to the second, in percent; PASS when at most `tolerancePct`. */
  readonly growthPct: number;
  readonly tolerancePct: number;
  readonly pass: boolean;
};

export async function measureMemory(quick: boolean): Promise<MemoryReport> {
  const host = machine();
  const secrets = quick ? 10_000 : 100_000;
  const roundSeconds = quick ? 10 : 30;
  const dir = mkdtempSync(join(tmpdir(), "coffer-bench-mem-"));
  let srv: ChildProcess | null = null;
  try {
    progress("starting coffer serve (SQLite)");
    const s = await startChild(
      [BIN, "serve", "--port", "0"],
      { COFFER_HOME: join(dir, "home"), COFFER_KEK_PROVIDER: "file", COFFER_RATE_LIMIT_REVEAL: "off", COFFER_RATE_LIMIT_WRITE: "off" },
      LISTENING,
    );
    srv = s.proc;
    const pid = s.proc.pid ?? 0;
    const url = s.match[1] ?? "";
    const token = s.match[2] ?? "";
    const started = rssMiB(pid);
    progress(`seeding ${secrets.toLocaleString("en-US")} secrets through the import endpoint`);
    await seed(url, token, "project/bench", secrets);
    const seeded = rssMiB(pid);
    const mix = [
      { method: "GET", path: "/v1/secrets/project/bench/K{i}" },
      { method: "GET", path: "/v1/secrets?owner=project/bench&limit=100" },
      { method: "POST", path: "/v1/secrets/project/bench/K{i}:reveal", body: JSON.stringify({ reason: "bench" }) },
      { method: "GET", path: "/v1/secrets/project/bench/K{i}" },
    ];
    const rounds: number[] = [];
    const requests: number[] = [];
    let errors = 0;
    for (let r = 1; r <= 2; r++) {
      progress(
        `round ${String(r)}: ${String(roundSeconds)} s of mixed load (masked GET, list, reveal), ${String(CONNECTIONS)} connections`,
      );
      const l = await load({ url, token, mix, connections: CONNECTIONS, seconds: roundSeconds, spread: secrets });
      rounds.push(rssMiB(pid));
      requests.push(l.total);
      errors += l.errors + l.non2xx;
      progress(`round ${String(r)}: ${String(l.total)} requests, RSS ${(rounds[r - 1] ?? 0).toFixed(0)} MiB`);
    }
    const [r1 = 0, r2 = 0] = rounds;
    const growthPct = ((r2 - r1) / r1) * 100;
    const tolerancePct = 5;
    return {
      machine: host,
      loadAvgEnd: Math.round((loadavg()[0] ?? 0) * 100) / 100,
      secrets,
      roundSeconds,
      rssMiB: { started, seeded, rounds },
      requests,
      errors,
      growthPct,
      tolerancePct,
      pass: growthPct <= tolerancePct && errors === 0,
    };
  } finally {
    if (srv !== null) await stop(srv);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatMemoryText(r: MemoryReport): string {
  return [
    `coffer serve (SQLite) memory: ${r.secrets.toLocaleString("en-US")} secrets, 2 rounds of ${String(r.roundSeconds)} s mixed load (masked GET, list, reveal; ${String(CONNECTIONS)} connections)`,
    `${String(r.machine.cores)} x ${r.machine.cpu}, node ${r.machine.node}, load average ${r.machine.loadAvg.toFixed(2)} at the start, ${r.loadAvgEnd.toFixed(2)} at the end`,
    "",
    "RSS MiB   started  seeded  round 1  round 2  growth   target        result",
    `          ${r.rssMiB.started.toFixed(0).padStart(7)}  ${r.rssMiB.seeded.toFixed(0).padStart(6)}  ${(r.rssMiB.rounds[0] ?? 0).toFixed(0).padStart(7)}  ${(r.rssMiB.rounds[1] ?? 0).toFixed(0).padStart(7)}  ${r.growthPct.toFixed(1).padStart(5)}%  <= ${String(r.tolerancePct)}%, 0 errors  ${r.pass ? "PASS" : "MISS"}`,
    `requests per round: ${r.requests.join(", ")}; errors and non-2xx: ${String(r.errors)}`,
  ].join("\n");
}

export type ScaleCase = {
  readonly op: "get" | "reveal";
  readonly oneRps: number;
  readonly twoRps: number;
  readonly twoOverOne: number;
  readonly errors: number;
};
export type ScaleReport = {
  readonly machine: ReturnType<typeof machine>;
  readonly loadAvgEnd: number;
  readonly server: string;
  readonly slices: number;
  readonly sliceSeconds: number;
  readonly cases: readonly ScaleCase[];
};

/** One and two `coffer serve` processes on one PostgreSQL, alternating in slices. */
export async function measureTwoServers(quick: boolean): Promise<ScaleReport> {
  const host = machine();
  const slices = quick ? 2 : 4;
  const sliceSeconds = quick ? 2 : 3;
  const cleanup = new Cleanup();
  const dir = mkdtempSync(join(tmpdir(), "coffer-bench-scale-"));
  cleanup.add(`remove ${dir}`, () => {
    rmSync(dir, { recursive: true, force: true });
  });
  const procs: ChildProcess[] = [];
  try {
    const pg = await preparePostgres(cleanup);
    const env = { COFFER_DB_URL: pg.url, COFFER_KEK_BASE64: KEK, COFFER_RATE_LIMIT_REVEAL: "off", COFFER_RATE_LIMIT_WRITE: "off" };
    const m = spawnSync(process.execPath, [BIN, "migrate"], {
      env: { ...process.env, ...env, COFFER_HOME: join(dir, "m") },
      encoding: "utf8",
    });
    if (m.status !== 0) throw new Error(`coffer migrate failed: ${m.stderr}`);
    progress("starting two coffer serve processes on one PostgreSQL");
    const a = await startChild([BIN, "serve", "--port", "0"], { ...env, COFFER_HOME: join(dir, "a") }, LISTENING);
    procs.push(a.proc);
    const b = await startChild([BIN, "serve", "--port", "0"], { ...env, COFFER_HOME: join(dir, "b") }, LISTENING_NO_TOKEN);
    procs.push(b.proc);
    const urlA = a.match[1] ?? "";
    const urlB = b.match[1] ?? "";
    const token = a.match[2] ?? "";
    await seed(urlA, token, "project/bench", 1000);
    const ops = {
      get: { method: "GET", path: "/v1/secrets/project/bench/K{i}" },
      reveal: { method: "POST", path: "/v1/secrets/project/bench/K{i}:reveal", body: JSON.stringify({ reason: "bench" }) },
    } as const;
    await load({ url: [urlA, urlB], token, ...ops.get, connections: 10, seconds: 1, spread: 1000 });
    const cases: ScaleCase[] = [];
    for (const op of ["get", "reveal"] as const) {
      progress(`${op}: one server and two, alternating in ${String(slices)} slices of ${String(sliceSeconds)} s`);
      const one: Load[] = [];
      const two: Load[] = [];
      for (let i = 0; i < slices; i++) {
        one.push(await load({ url: urlA, token, ...ops[op], connections: CONNECTIONS, seconds: sliceSeconds, spread: 1000 }));
        two.push(await load({ url: [urlA, urlB], token, ...ops[op], connections: CONNECTIONS, seconds: sliceSeconds, spread: 1000 }));
      }
      const o = combine(one);
      const t = combine(two);
      cases.push({ op, oneRps: o.rps, twoRps: t.rps, twoOverOne: t.rps / o.rps, errors: o.errors + o.non2xx + t.errors + t.non2xx });
      progress(`${op}: one server ${o.rps.toFixed(0)} req/s, two ${t.rps.toFixed(0)} req/s`);
    }
    return { machine: host, loadAvgEnd: Math.round((loadavg()[0] ?? 0) * 100) / 100, server: pg.server, slices, sliceSeconds, cases };
  } finally {
    for (const p of procs) await stop(p);
    await cleanup.run(10_000, false);
  }
}

export function formatScaleText(r: ScaleReport): string {
  const lines = [
    `two coffer serve processes on one PostgreSQL (${r.server}); ${String(CONNECTIONS)} connections, spread over both servers for "two"; ${String(r.slices)} alternating slices of ${String(r.sliceSeconds)} s`,
    `${String(r.machine.cores)} x ${r.machine.cpu}, node ${r.machine.node}, load average ${r.machine.loadAvg.toFixed(2)} at the start, ${r.loadAvgEnd.toFixed(2)} at the end`,
    "(server processes, PostgreSQL and the load generator share the machine's cores: the point is zero errors, not the gain)",
    "",
    "op        one server req/s  two servers req/s  two/one  errors",
  ];
  for (const c of r.cases)
    lines.push(
      `${c.op.padEnd(8)}  ${c.oneRps.toFixed(0).padStart(16)}  ${c.twoRps.toFixed(0).padStart(17)}  ${c.twoOverOne.toFixed(2).padStart(6)}x  ${String(c.errors).padStart(6)}`,
    );
  return lines.join("\n");
}
