// `npm run bench [-- [--quick] [--json] [--db sqlite|postgres] [--rotation] [--files] [--http]]`: Coffer against the
// raw floor of the same machine, in one run. See docs/benchmarks.md for what each figure means.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { measureKeyTypes } from "./aes-keys.ts";
import { Cleanup } from "./cleanup.ts";
import { cofferEnv, openCofferOps, seedHome } from "./coffer-ops.ts";
import {
  DIALECTS,
  countsFor,
  makeWorkload,
  progress,
  timeInterleaved,
  type BenchDb,
  type Counts,
  type Dialect,
  type Workload,
} from "./common.ts";
import { openFloor } from "./floors.ts";
import { installRoundTripCounter, probeSide } from "./pg-breakdown.ts";
import { preparePostgres } from "./pg-server.ts";
import { measurePoolScaling } from "./pool-scaling.ts";
import { formatFilesText, measureFiles } from "./files.ts";
import { formatBundleText, measureBundle } from "./bundle.ts";
import { formatHttpText, measureHttp } from "./http.ts";
import { formatMemoryText, formatScaleText, measureMemory, measureTwoServers } from "./http-scale.ts";
import { formatKmsText, measureKms } from "./kms.ts";
import { formatRenderText, measureRender } from "./render.ts";
import { formatRotationText, measureRotation, type RotationReport } from "./rotation.ts";
import {
  formatJson,
  formatText,
  machine,
  opResult,
  startupReport,
  stateMacShare,
  type BenchReport,
  type OpResult,
  type StartupReport,
  type StateMacShare,
} from "./report.ts";
import { checkBuild, childEnv, measureStartup } from "./startup.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** However the run goes, it ends (with its cleanup) by then. */
const DEADLINE_MS = 15 * 60_000;
/** Each cleanup step (drop the database, stop the embedded server: start-up may take 60 s). */
const CLEANUP_STEP_MS = 90_000;

const USAGE = `usage: npm run bench [-- [--quick] [--json] [--db sqlite|postgres] [--rotation] [--files] [--http [--memory]] [--kms] [--render]]

  --quick       smaller counts, for a fast check (SQLite: 5,000 set/get, 1,000 reveal;
                PostgreSQL: 2,000 set/get, 500 reveal)
  --json        print the results as JSON on stdout (progress stays on stderr)
  --db <name>   the database to benchmark: sqlite (default) or postgres (the DATABASE_URL
                server if set, else an embedded PostgreSQL started for the run)
  --rotation    instead of the above: KEK rotation, owner rekey and get during a rotation
                (SQLite: 1,000,000 secrets across 10,000 owners; --quick: 100,000 / 1,000)
  --http        instead of the above: a real coffer serve (SQLite) under autocannon (50
                connections) for masked GET, reveal and PUT beside a bare Fastify route
                doing one SQLite select + one AES-GCM decrypt, alternating in slices;
                with --db postgres: one and two coffer serve on one PostgreSQL instead
  --memory      with --http: RSS of coffer serve holding 100,000 secrets (--quick: 10,000)
                after two consecutive rounds of mixed load (30 s each; --quick: 10 s)
  --files       instead of the above: encrypt and decrypt a 1,000-key YAML and dotenv
                SOPS file beside bare AES-256-GCM over the same values (no database); then
                export and import a 100,000-secret bundle (--quick: 10,000) on SQLite beside
                the age CLI decrypting the same bundle and bare AES-256-GCM over the values
  --kms         instead of the above: reveals with the KEK in AWS KMS and Vault Transit (their
                protocol fakes on 127.0.0.1) beside a local key file: throughput and
                key-service decrypt calls per 1,000 reveals, scope-key cache on and off
  --render      instead of the above: render a stored template with 100 references beside
                100 single reveals of the same secrets (target: render ≤ 1.2×), then
                coffer secrets generate --if-missing from 8 concurrent processes
  --help        this text
`;

type Options = {
  readonly quick: boolean;
  readonly json: boolean;
  readonly dialect: Dialect;
  readonly rotation: boolean;
  readonly files: boolean;
  readonly http: boolean;
  readonly memory: boolean;
  readonly kms: boolean;
  readonly render: boolean;
};

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
        rotation: { type: "boolean", default: false },
        files: { type: "boolean", default: false },
        http: { type: "boolean", default: false },
        memory: { type: "boolean", default: false },
        kms: { type: "boolean", default: false },
        render: { type: "boolean", default: false },
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
  const dialect = DIALECTS.find((d) => d === v.db);
  if (dialect === undefined) throw new UsageError(`unknown --db '${v.db}'; supported: ${DIALECTS.join(", ")}`);
  if (v.rotation && dialect !== "sqlite") throw new UsageError("--rotation runs on SQLite only");
  if (v.files && v.rotation) throw new UsageError("--files and --rotation are separate runs");
  if (v.http && (v.files || v.rotation)) throw new UsageError("--http, --files and --rotation are separate runs");
  if (v.kms && (v.http || v.files || v.rotation)) throw new UsageError("--kms, --http, --files and --rotation are separate runs");
  if (v.render && (v.kms || v.http || v.files || v.rotation)) throw new UsageError("--render is a separate run");
  if (v.memory && (!v.http || dialect !== "sqlite")) throw new UsageError("--memory goes with --http, on SQLite");
  return {
    quick: v.quick,
    json: v.json,
    dialect,
    rotation: v.rotation,
    files: v.files,
    http: v.http,
    memory: v.memory,
    kms: v.kms,
    render: v.render,
  };
}

async function measureOps(
  db: BenchDb,
  dir: string,
  home: string,
  w: Workload,
  counts: Counts,
): Promise<{ operations: OpResult[]; stateMac: StateMacShare }> {
  // PostgreSQL: round trips are counted per pg client from the start (pg-breakdown.ts).
  if (db.dialect === "postgres") installRoundTripCounter();
  const coffer = await openCofferOps(db, home, w);
  try {
    const floor = await openFloor({ db, dir, workload: w, schema: coffer.schema() });
    try {
      const warm = Math.min(1000, Math.ceil(counts.secrets / 20));
      progress(`warming up (${String(warm)} secrets of another owner, each side)`);
      await floor.warmUp(warm);
      await coffer.warmUp(warm);
      await floor.refreshStats();
      const results: OpResult[] = [];
      for (const [op, n] of [
        ["set", counts.secrets],
        ["get", counts.secrets],
        ["reveal", counts.reveals],
      ] as const) {
        progress(`${op}: ${n.toLocaleString("en-US")} operations, floor and Coffer alternating`);
        // Writes change the tables: their statistics are refreshed after each round, untimed.
        const after = op === "set" ? () => floor.refreshStats() : undefined;
        let r: OpResult;
        if (db.dialect === "postgres") {
          const [f, c] = [probeSide(floor[op]), probeSide(coffer[op])];
          r = opResult(db.dialect, op, await timeInterleaved(n, counts.rounds, f.fn, c.fn, after), {
            coffer: c.result(),
            floor: f.result(),
          });
        } else {
          r = opResult(db.dialect, op, await timeInterleaved(n, counts.rounds, floor[op], coffer[op], after));
        }
        progress(`${op}: Coffer ${r.cofferOpsPerSec.toFixed(0)}/s, floor ${r.floorOpsPerSec.toFixed(0)}/s (${r.ratioPct.toFixed(1)}%)`);
        results.push(r);
      }
      // At most 5,000 rows: the check alone, beside the masked get of the same run.
      const n = Math.min(5000, counts.secrets);
      progress(`state MAC: the check alone on ${n.toLocaleString("en-US")} rows, first and repeated read`);
      const cost = await coffer.stateMac(n);
      const getUs = results.find((o) => o.op === "get")?.cofferUsPerOp ?? 0;
      const stateMac = stateMacShare(cost, getUs);
      progress(
        `state MAC: ${cost.firstUs.toFixed(2)} us first read, ${cost.repeatUs.toFixed(2)} us repeated (${stateMac.sharePct.toFixed(1)}% of a masked get)`,
      );
      return { operations: results, stateMac };
    } finally {
      await floor.close();
    }
  } finally {
    await coffer.close();
  }
}

/** `coffer run` start-up (SQLite): real child processes of the built CLI. */
async function measureRun(db: BenchDb, dir: string, counts: Counts): Promise<StartupReport> {
  const runHome = join(dir, "run-home");
  mkdirSync(runHome);
  progress(`run: seeding ${String(counts.runSecrets)} secrets, then ${String(counts.startupRuns)} timed runs of each command`);
  await seedHome(db, runHome, counts.runSecrets, makeWorkload(counts.runSecrets));
  const startup = await measureStartup({
    root: ROOT,
    env: childEnv(cofferEnv(db, runHome)),
    runs: counts.startupRuns,
    warmup: counts.startupWarmup,
    secrets: counts.runSecrets,
  });
  return startupReport(startup);
}

/** Set on Ctrl-C or at the deadline: the run is being torn down, errors from then on are expected. */
let stopping = false;

type RunContext = { readonly dir: string; readonly cleanup: Cleanup; readonly warnings: string[] };

/** The temporary directory, the deadline, Ctrl-C and the cleanup around one kind of run. */
async function withRun<T>(opts: Options, body: (run: RunContext) => Promise<T>): Promise<T> {
  const warnings: string[] = [];
  const cleanup = new Cleanup();
  const dir = mkdtempSync(join(tmpdir(), "coffer-bench-"));
  cleanup.add(`remove ${dir}`, () => {
    rmSync(dir, { recursive: true, force: true });
  });
  const abort = (why: string, code: number): void => {
    stopping = true;
    progress(`${why}: cleaning up`);
    // Stopping the server resets connections in use, and a pooled pg client with a query in
    // flight has no 'error' listener (pg-pool removes it at checkout): the cleanup must go on.
    process.on("uncaughtException", (e) => {
      progress(`while stopping: ${e.message}`);
    });
    void cleanup.run(CLEANUP_STEP_MS, true).then((failures) => {
      for (const f of failures) progress(`cleanup failed: ${f}`);
      process.exit(code);
    });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    abort(signal, signal === "SIGINT" ? 130 : 143);
  };
  const deadline = setTimeout(() => {
    abort(`not finished after ${String(DEADLINE_MS / 60_000)} minutes`, 1);
  }, DEADLINE_MS);
  deadline.unref();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    if (opts.dialect === "sqlite") {
      const stale = checkBuild(ROOT);
      if (stale !== null) {
        warnings.push(stale);
        progress(`warning: ${stale}`);
      }
    }
    progress(`data in ${dir}`);
    return await body({ dir, cleanup, warnings });
  } finally {
    if (!stopping) {
      clearTimeout(deadline);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      for (const f of await cleanup.run(CLEANUP_STEP_MS, false)) {
        warnings.push(`cleanup failed: ${f}`);
        progress(`cleanup failed: ${f}`);
      }
    }
  }
}

async function bench(opts: Options): Promise<BenchReport> {
  const started = performance.now();
  const host = machine();
  const counts = countsFor(opts.dialect, opts.quick);
  return withRun(opts, async ({ dir, cleanup, warnings }) => {
    const pg = opts.dialect === "postgres" ? await preparePostgres(cleanup) : null;
    const db: BenchDb = pg === null ? { dialect: "sqlite" } : { dialect: "postgres", url: pg.url };
    progress(`AES-256-GCM Buffer vs KeyObject keys: ${counts.keyOps.toLocaleString("en-US")} pairs per case`);
    const aesKeys = await measureKeyTypes(counts.keyOps, counts.rounds);
    progress(`preparing ${counts.secrets.toLocaleString("en-US")} values`);
    const w = makeWorkload(counts.secrets);
    const home = join(dir, "home");
    const { operations, stateMac } = await measureOps(db, dir, home, w, counts);
    const pool =
      db.dialect === "postgres" && counts.pool !== null ? await measurePoolScaling(db, home, w, counts.pool, counts.rounds) : null;
    let startup: StartupReport | null = null;
    if (db.dialect === "sqlite") startup = await measureRun(db, dir, counts);
    else progress(`run start-up: measured on SQLite only, skipped on ${db.dialect}`);
    return {
      dialect: opts.dialect,
      server: pg?.server ?? null,
      quick: opts.quick,
      machine: host,
      counts,
      operations,
      stateMac,
      pool,
      startup,
      aesKeys,
      warnings,
      seconds: (performance.now() - started) / 1000,
    };
  });
}

/** `--rotation`: see bench/rotation.ts. */
function benchRotation(opts: Options): Promise<RotationReport> {
  return withRun(opts, ({ dir, cleanup, warnings }) => measureRotation({ root: ROOT, dir, quick: opts.quick, cleanup, warnings }));
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
  let text: string;
  try {
    if (opts.render) {
      const r = await measureRender(opts.quick);
      text = opts.json ? JSON.stringify(r, null, 2) : formatRenderText(r);
    } else if (opts.kms) {
      const r = await measureKms(opts.quick);
      text = opts.json ? JSON.stringify(r, null, 2) : formatKmsText(r);
    } else if (opts.http && opts.memory) {
      const r = await measureMemory(opts.quick);
      text = opts.json ? JSON.stringify(r, null, 2) : formatMemoryText(r);
    } else if (opts.http && opts.dialect === "postgres") {
      const r = await measureTwoServers(opts.quick);
      text = opts.json ? JSON.stringify(r, null, 2) : formatScaleText(r);
    } else if (opts.http) {
      const r = await measureHttp(opts.quick);
      text = opts.json ? JSON.stringify(r, null, 2) : formatHttpText(r);
    } else if (opts.files) {
      const r = await measureFiles(opts.quick);
      const b = await measureBundle(opts.quick);
      text = opts.json ? JSON.stringify({ ...r, bundle: b }, null, 2) : `${formatFilesText(r)}\n\n${formatBundleText(b)}`;
    } else if (opts.rotation) {
      const r = await benchRotation(opts);
      text = opts.json ? JSON.stringify(r, null, 2) : formatRotationText(r);
    } else {
      const r = await bench(opts);
      text = opts.json ? formatJson(r) : formatText(r);
    }
  } catch (e) {
    if (stopping) return 1; // the abort path reports and exits
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
  process.stdout.write(`${text}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
