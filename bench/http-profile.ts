// `node bench/http-profile.ts [--op get|reveal|put] [--seconds 8] [--top 30] [--keep DIR]`: where a
// request's time goes in `coffer serve`. Starts the built server (bin/coffer.js, SQLite) under
// `node --cpu-prof`, seeds 1,000 secrets, drives one operation at 50 connections with autocannon
// (bench/http-load.ts, its own process), stops the server and prints the hottest functions of
// the load's window by self and by inclusive time, and the server's CPU time per request
// (user + system from /proc, every thread: libuv's pool too, which the profile does not see).
// Needs `npm run build` first. See docs/benchmarks.md.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CofferClient } from "../src/sdk/index.ts";
import { load, ROOT, startChild, stop } from "./http.ts";

type Frame = { functionName: string; url: string; lineNumber: number };
type Node = { id: number; callFrame: Frame; children?: number[] };
type Profile = { nodes: Node[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

const { values } = parseArgs({
  options: {
    op: { type: "string", default: "get" },
    seconds: { type: "string", default: "8" },
    top: { type: "string", default: "30" },
    keep: { type: "string" },
  },
});
const op = values.op;
if (op !== "get" && op !== "reveal" && op !== "put") throw new Error("--op must be get, reveal or put");
const seconds = Number(values.seconds);
const top = Number(values.top);

/** user + system clock ticks of a process, all its threads (Linux). */
function cpuTicks(pid: number): number | null {
  try {
    const fields =
      readFileSync(`/proc/${String(pid)}/stat`, "utf8")
        .split(") ")[1]
        ?.split(" ") ?? [];
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** Self and inclusive time per function (`name file:line`) over the samples taken in [from, to] (µs). */
function summarise(p: Profile, from: number, to: number): { self: Map<string, number>; incl: Map<string, number>; total: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: Node): string =>
    `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/^.*\/(node_modules\/)?/, "")}:${String(n.callFrame.lineNumber + 1)}`;
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let t = p.startTime;
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    const node = byId.get(id);
    if (t < from || t > to || node === undefined) return;
    total += dt;
    self.set(key(node), (self.get(key(node)) ?? 0) + dt);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (n === undefined) break;
      const k = key(n);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  });
  return { self, incl, total };
}

const dir = mkdtempSync(join(tmpdir(), "coffer-bench-profile-"));
const profDir = values.keep ?? join(dir, "prof");
try {
  const srv = await startChild(
    ["--cpu-prof", `--cpu-prof-dir=${profDir}`, "--cpu-prof-interval=200", join(ROOT, "bin", "coffer.js"), "serve", "--port", "0"],
    { COFFER_HOME: join(dir, "home"), COFFER_KEK_PROVIDER: "file", COFFER_RATE_LIMIT_REVEAL: "off", COFFER_RATE_LIMIT_WRITE: "off" },
    /coffer listening on (http:\/\/\S+)\n[^\n]*\n(coffer_[A-Za-z0-9_-]{43})\n/,
  );
  let loadUs: number;
  try {
    const url = srv.match[1] ?? "";
    const token = srv.match[2] ?? "";
    const sdk = new CofferClient({ baseUrl: url, token });
    for (let i = 0; i < 1000; i++) await sdk.putSecret("project/bench", `K${String(i)}`, { value: "v".repeat(64) });
    const cases = {
      get: { url, method: "GET", path: "/v1/secrets/project/bench/K{i}", token },
      reveal: { url, method: "POST", path: "/v1/secrets/project/bench/K{i}:reveal", token, body: JSON.stringify({ reason: "bench" }) },
      put: { url, method: "PUT", path: "/v1/secrets/project/bench/K{i}", token, body: JSON.stringify({ value: "w".repeat(64) }) },
    } as const;
    await load({ ...cases[op], connections: 10, seconds: 1, spread: 1000 });
    const pid = srv.proc.pid ?? 0;
    const ticks0 = cpuTicks(pid);
    const r = await load({ ...cases[op], connections: 50, seconds, spread: 1000 });
    const ticks1 = cpuTicks(pid);
    const perRequest =
      ticks0 === null || ticks1 === null ? "n/a (no /proc)" : `${((((ticks1 - ticks0) / 100) * 1e6) / r.total).toFixed(1)} µs`;
    process.stdout.write(
      `${op}: ${r.rps.toFixed(0)} req/s, p50 ${String(r.p50)} ms, p99 ${String(r.p99)} ms, ${String(r.non2xx + r.errors)} non-2xx/errors; server CPU per request ${perRequest}\n`,
    );
    loadUs = r.seconds * 1e6;
  } finally {
    await stop(srv.proc);
  }
  const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
  if (file === undefined) throw new Error(`no .cpuprofile in ${profDir}`);
  const p = JSON.parse(readFileSync(join(profDir, file), "utf8")) as Profile;
  // The load's seconds end shortly before the profile (SIGTERM, close): drop the last half second.
  const s = summarise(p, p.endTime - loadUs - 500_000, p.endTime - 500_000);
  const print = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`\n${title} (share of the ${(s.total / 1e6).toFixed(1)} s sampled under load)\n`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
      process.stdout.write(`${((100 * v) / s.total).toFixed(1).padStart(5)}%  ${k}\n`);
  };
  print("self time", s.self);
  print("inclusive time", s.incl);
  if (values.keep !== undefined) process.stdout.write(`\nprofile kept: ${join(profDir, file)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
