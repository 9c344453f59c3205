// `coffer run` start-up: real child processes, `coffer run -- node -e 0` against bare `node -e 0`.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { median, progress, yieldToEventLoop, OWNER } from "./common.ts";

export type StartupResult = {
  readonly runs: number;
  readonly secrets: number;
  /** Milliseconds per run, in run order. */
  readonly nodeMs: readonly number[];
  readonly cofferMs: readonly number[];
  readonly nodeMedianMs: number;
  readonly cofferMedianMs: number;
  /** Coffer median / node median. */
  readonly ratio: number;
};

type Command = { readonly label: string; readonly file: string; readonly args: readonly string[] };

function timeOnce(cmd: Command, env: NodeJS.ProcessEnv, cwd: string): number {
  const t = performance.now();
  const r = spawnSync(cmd.file, cmd.args, { cwd, env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const ms = performance.now() - t;
  if (r.error !== undefined) throw new Error(`${cmd.label}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd.label} exited with ${String(r.status ?? r.signal)}: ${r.stderr.trim()}`);
  return ms;
}

/**
 * The parent's environment without any Coffer setting of the user's (COFFER_*, and
 * DATABASE_URL, which Coffer also reads), plus the bench home's.
 */
export function childEnv(cofferEnv: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("COFFER_") && k !== "DATABASE_URL" && v !== undefined) env[k] = v;
  return { ...env, ...cofferEnv };
}

function newestMtime(dir: string, suffix: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p, suffix));
    else if (e.name.endsWith(suffix) && !e.name.endsWith(".test.ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * `coffer` runs from dist/ (bin/coffer.js), so start-up measures the last build. No build: an
 * error; a build older than src/: a warning, since the figure would describe old code.
 */
export function checkBuild(root: string): string | null {
  const dist = join(root, "dist");
  const probe = spawnSync(process.execPath, [join(root, "bin", "coffer.js"), "--version"], { stdio: "ignore" });
  if (!existsSync(dist) || probe.status !== 0) throw new Error("`node bin/coffer.js --version` fails: run `npm run build` first");
  if (newestMtime(dist, ".js") < newestMtime(join(root, "src"), ".ts"))
    return "dist/ is older than src/: the `run` figure measures the last build; run `npm run build` first";
  return null;
}

/**
 * Times both commands `runs` times each, alternating them (after `warmup` untimed runs each),
 * so the page cache and CPU state are the same for both.
 */
export async function measureStartup(opts: {
  readonly root: string;
  readonly env: NodeJS.ProcessEnv;
  readonly runs: number;
  readonly warmup: number;
  readonly secrets: number;
}): Promise<StartupResult> {
  const node = process.execPath;
  const bare: Command = { label: "node -e 0", file: node, args: ["-e", "0"] };
  const coffer: Command = {
    label: "coffer run",
    file: node,
    args: [join(opts.root, "bin", "coffer.js"), "run", "--owner", OWNER, "--", node, "-e", "0"],
  };
  for (let i = 0; i < opts.warmup; i++) {
    timeOnce(bare, opts.env, opts.root);
    timeOnce(coffer, opts.env, opts.root);
    await yieldToEventLoop();
  }
  const nodeMs: number[] = [];
  const cofferMs: number[] = [];
  for (let i = 0; i < opts.runs; i++) {
    nodeMs.push(timeOnce(bare, opts.env, opts.root));
    cofferMs.push(timeOnce(coffer, opts.env, opts.root));
    await yieldToEventLoop();
  }
  const nodeMedianMs = median(nodeMs);
  const cofferMedianMs = median(cofferMs);
  progress(`run: node -e 0 ${nodeMedianMs.toFixed(1)} ms, coffer run ${cofferMedianMs.toFixed(1)} ms (medians of ${String(opts.runs)})`);
  return {
    runs: opts.runs,
    secrets: opts.secrets,
    nodeMs,
    cofferMs,
    nodeMedianMs,
    cofferMedianMs,
    ratio: nodeMedianMs === 0 ? 0 : cofferMedianMs / nodeMedianMs,
  };
}
