// `npm run bench [-- [--quick] [--json] [--db sqlite]]`: Coffer against the raw floor of
// the same machine, in one run. See docs/benchmarks.md for what each figure means.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { measureKeyTypes } from "./aes-keys.ts";
import { cofferEnv, openCofferOps, seedHome } from "./coffer-ops.ts";
import {
  FULL_COUNTS,
  KNOWN_DIALECTS,
  QUICK_COUNTS,
  SUPPORTED_DIALECTS,
  makeWorkload,
  opsPerSec,
  progress,
  timeInterleaved,
  type Counts,
  type Dialect,
} from "./common.ts";
import { openFloor } from "./floors.ts";
import { formatJson, formatText, machine, opResult, startupReport, type BenchReport, type OpResult } from "./report.ts";
import { checkBuild, childEnv, measureStartup } from "./startup.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

const USAGE = `usage: npm run bench [-- [--quick] [--json] [--db sqlite]]

  --quick       smaller counts (5,000 set/get, 1,000 reveal), for a fast check
  --json        print the results as JSON on stdout (progress stays on stderr)
  --db <name>   the database to benchmark: sqlite (default); postgres is planned
  --help        this text
`;

type Options = { readonly quick: boolean; readonly json: boolean; readonly dialect: Dialect };

class UsageError extends Error {}

function parseOptions(argv: readonly string[]): Options | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        quick: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        db: { type: "string", default: "sqlite" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return null;
  const db = v.db;
  const supported = SUPPORTED_DIALECTS.find((d) => d === db);
  if (supported === undefined) {
    if ((KNOWN_DIALECTS as readonly string[]).includes(db))
      throw new UsageError(`--db ${db} is not supported yet; supported: ${SUPPORTED_DIALECTS.join(", ")}`);
    throw new UsageError(`unknown --db '${db}'; supported: ${SUPPORTED_DIALECTS.join(", ")}`);
  }
  return { quick: v.quick, json: v.json, dialect: supported };
}

async function measureOps(dialect: Dialect, dir: string, counts: Counts): Promise<OpResult[]> {
  progress(`preparing ${counts.secrets.toLocaleString("en-US")} values`);
  const w = makeWorkload(counts.secrets);
  const home = join(dir, "home");
  const coffer = await openCofferOps(dialect, home, w);
  const floor = openFloor(dialect, { dir, workload: w, schema: coffer.schema() });
  try {
    const warm = Math.min(1000, Math.ceil(counts.secrets / 20));
    progress(`warming up (${String(warm)} secrets of another owner, each side)`);
    floor.warmUp(warm);
    await coffer.warmUp(warm);
    const results: OpResult[] = [];
    for (const [op, n] of [
      ["set", counts.secrets],
      ["get", counts.secrets],
      ["reveal", counts.reveals],
    ] as const) {
      progress(`${op}: ${n.toLocaleString("en-US")} operations, floor and Coffer alternating`);
      const t = await timeInterleaved(n, counts.rounds, floor[op], coffer[op]);
      const r = opResult(op, t);
      progress(
        `${op}: Coffer ${opsPerSec(n, t.cofferMs).toFixed(0)}/s, floor ${opsPerSec(n, t.floorMs).toFixed(0)}/s (${r.ratioPct.toFixed(1)}%)`,
      );
      results.push(r);
    }
    return results;
  } finally {
    floor.close();
    await coffer.close();
  }
}

async function bench(opts: Options): Promise<BenchReport> {
  const started = performance.now();
  const host = machine();
  const counts = opts.quick ? QUICK_COUNTS : FULL_COUNTS;
  const warnings: string[] = [];
  const stale = checkBuild(ROOT);
  if (stale !== null) {
    warnings.push(stale);
    progress(`warning: ${stale}`);
  }
  const dir = mkdtempSync(join(tmpdir(), "coffer-bench-"));
  const onSignal = (signal: NodeJS.Signals): void => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    progress(`data in ${dir}`);
    progress(`AES-256-GCM Buffer vs KeyObject keys: ${counts.keyOps.toLocaleString("en-US")} pairs per case`);
    const aesKeys = await measureKeyTypes(counts.keyOps, counts.rounds);
    const operations = await measureOps(opts.dialect, dir, counts);

    const runHome = join(dir, "run-home");
    mkdirSync(runHome);
    progress(`run: seeding ${String(counts.runSecrets)} secrets, then ${String(counts.startupRuns)} timed runs of each command`);
    await seedHome(opts.dialect, runHome, counts.runSecrets, makeWorkload(counts.runSecrets));
    const startup = await measureStartup({
      root: ROOT,
      env: childEnv(cofferEnv(opts.dialect, runHome)),
      runs: counts.startupRuns,
      warmup: counts.startupWarmup,
      secrets: counts.runSecrets,
    });
    return {
      dialect: opts.dialect,
      quick: opts.quick,
      machine: host,
      counts,
      operations,
      startup: startupReport(startup),
      aesKeys,
      warnings,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let opts: Options | null;
  try {
    opts = parseOptions(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`error: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts === null) {
    process.stdout.write(USAGE);
    return 0;
  }
  let report: BenchReport;
  try {
    report = await bench(opts);
  } catch (e) {
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
  process.stdout.write(`${opts.json ? formatJson(report) : formatText(report)}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
