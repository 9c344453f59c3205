// `node bench/http-ab.ts --a DIR --b DIR [--op reveal|get] [--rounds 12] [--seconds 1] [--env K=V]…`:
// two builds of Coffer (each DIR a checkout with `npm run build` done, e.g. `git archive main`
// unpacked, with node_modules linked) side by side, each a real `coffer serve` on SQLite seeded
// with 1,000 secrets, loaded in alternating slices at 50 connections (bench/http-load.ts). Prints
// each side's req/s and server CPU per request (user + system of every thread, from /proc), and
// the median over the rounds of B/A for both: on a shared machine the per-round ratio moves far
// less than either side's figure or the floor's (`npm run bench -- --http`). Linux only.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CofferClient } from "../src/sdk/index.ts";
import { load, startChild, stop, type Load } from "./http.ts";

const { values } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string" },
    op: { type: "string", default: "reveal" },
    rounds: { type: "string", default: "12" },
    seconds: { type: "string", default: "1" },
    env: { type: "string", multiple: true, default: [] },
  },
});
if (values.a === undefined || values.b === undefined) throw new Error("--a DIR and --b DIR are required (two built checkouts)");
const op = values.op;
if (op !== "get" && op !== "reveal") throw new Error("--op must be get or reveal");
const extra = Object.fromEntries(
  values.env.map((e) => {
    const at = e.indexOf("=");
    if (at <= 0) throw new Error(`--env ${e}: expected NAME=value`);
    return [e.slice(0, at), e.slice(at + 1)];
  }),
);

/** user + system clock ticks of a process, all its threads. */
function cpuTicks(pid: number): number {
  const fields =
    readFileSync(`/proc/${String(pid)}/stat`, "utf8")
      .split(") ")[1]
      ?.split(" ") ?? [];
  return Number(fields[11]) + Number(fields[12]);
}
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

const dir = mkdtempSync(join(tmpdir(), "coffer-bench-ab-"));
const sides = [
  { name: "A", root: resolve(values.a) },
  { name: "B", root: resolve(values.b) },
];
const started: Awaited<ReturnType<typeof startChild>>[] = [];
try {
  const cases: Record<string, unknown>[] = [];
  for (const side of sides) {
    const srv = await startChild(
      [join(side.root, "bin", "coffer.js"), "serve", "--port", "0"],
      {
        COFFER_HOME: join(dir, side.name),
        COFFER_KEK_PROVIDER: "file",
        COFFER_RATE_LIMIT_REVEAL: "off",
        COFFER_RATE_LIMIT_WRITE: "off",
        ...extra,
      },
      /coffer listening on (http:\/\/\S+)\n[^\n]*\n(coffer_[A-Za-z0-9_-]{43})\n/,
    );
    started.push(srv);
    const url = srv.match[1] ?? "";
    const token = srv.match[2] ?? "";
    const sdk = new CofferClient({ baseUrl: url, token });
    for (let i = 0; i < 1000; i++) await sdk.putSecret("project/bench", `K${String(i)}`, { value: "v".repeat(64) });
    const c =
      op === "get"
        ? { url, method: "GET", path: "/v1/secrets/project/bench/K{i}", token }
        : { url, method: "POST", path: "/v1/secrets/project/bench/K{i}:reveal", token, body: JSON.stringify({ reason: "bench" }) };
    cases.push(c);
    await load({ ...c, connections: 10, seconds: 1, spread: 1000 });
  }
  const runs: { load: Load; cpuUs: number }[][] = sides.map(() => []);
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const [i, srv] of started.entries()) {
      const pid = srv.proc.pid ?? 0;
      const t0 = cpuTicks(pid);
      const l = await load({ ...cases[i], connections: 50, seconds: Number(values.seconds), spread: 1000 });
      if (l.non2xx + l.errors > 0) throw new Error(`${sides[i]?.name ?? "?"}: ${String(l.non2xx)} non-2xx, ${String(l.errors)} errors`);
      runs[i]?.push({ load: l, cpuUs: ((cpuTicks(pid) - t0) * 1e4) / l.total });
    }
  }
  const [a = [], b = []] = runs;
  for (const [i, side] of sides.entries()) {
    const xs = runs[i] ?? [];
    const total = xs.reduce((n, x) => n + x.load.total, 0);
    const secs = xs.reduce((n, x) => n + x.load.seconds, 0);
    process.stdout.write(
      `${side.name} ${side.root}: ${(total / secs).toFixed(0)} req/s, ${median(xs.map((x) => x.cpuUs)).toFixed(0)} µs CPU/request (median), p99 ${String(median(xs.map((x) => x.load.p99)))} ms (median)\n`,
    );
  }
  const cpu = median(b.map((x, i) => x.cpuUs / (a[i]?.cpuUs ?? NaN)));
  const rps = median(b.map((x, i) => x.load.rps / (a[i]?.load.rps ?? NaN)));
  process.stdout.write(
    `${op}, ${JSON.stringify(extra)}: median per-round B/A: CPU per request ${cpu.toFixed(3)}, req/s ${rps.toFixed(3)}\n`,
  );
} finally {
  for (const s of started) await stop(s.proc);
  rmSync(dir, { recursive: true, force: true });
}
