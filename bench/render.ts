// `npm run bench -- --render`: rendering a stored template with 100 references to one owner,
// beside 100 reveals of the same secrets through the core, interleaved in the same run (SQLite);
// then `coffer secrets generate --if-missing` from 8 concurrent processes on one SQLite file.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../src/core/config/index.ts";
import { Secret } from "../src/core/secret/index.ts";
import { LOCAL_CONTEXT, createCore, type Actor, type Core } from "../src/core/service/index.ts";
import { progress, timeRounds } from "./common.ts";
import { machine } from "./report.ts";
import { childEnv } from "./startup.ts";

const ACTOR: Actor = { kind: "local", user: "bench" };
const OWNER = "project/bench";
const REFS = 100;
const TARGET_RATIO = 1.2;
const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "coffer.js");

export type RenderReport = {
  readonly machine: ReturnType<typeof machine>;
  readonly references: number;
  readonly renders: number;
  readonly renderMs: number;
  readonly revealsMs: number;
  /** Render time over the time of the same number of single reveals: target ≤ 1.2. */
  readonly ratio: number;
  readonly pass: boolean;
  readonly ifMissing: {
    readonly callers: number;
    readonly versions: number;
    readonly errors: number;
    readonly created: number;
    readonly ms: number;
  };
};

async function seed(core: Core): Promise<void> {
  const lines: string[] = [];
  for (let i = 0; i < REFS; i += 1) {
    const key = `K_${String(i).padStart(3, "0")}`;
    await core.secrets.set(ACTOR, LOCAL_CONTEXT, { owner: OWNER, key, value: Secret.fromString(`v"\\${String(i)}-${"x".repeat(24)}`) });
    lines.push(`k_${String(i)} = {{ secret "${key}" }}`);
  }
  await core.templates.put(ACTOR, LOCAL_CONTEXT, { owner: OWNER, name: "bench.toml", text: `${lines.join("\n")}\n` });
}

/** 8 real `coffer secrets generate --if-missing` processes on one SQLite file, at once. */
async function ifMissing(home: string): Promise<RenderReport["ifMissing"]> {
  const env = childEnv({ COFFER_HOME: home, COFFER_KEK_PROVIDER: "file" });
  const callers = 8;
  const started = performance.now();
  const runs = await Promise.all(
    Array.from(
      { length: callers },
      () =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const p = spawn(process.execPath, [BIN, "secrets", "generate", OWNER, "GENERATED", "--if-missing", "--json"], {
            env,
            stdio: ["ignore", "pipe", "ignore"],
          });
          let out = "";
          p.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
          p.on("exit", (code) => {
            resolve({ code, out });
          });
        }),
    ),
  );
  const ms = performance.now() - started;
  const core = await createCore(loadConfig({ env: { COFFER_HOME: home, COFFER_KEK_PROVIDER: "file" } }));
  try {
    const versions = (await core.secrets.history(ACTOR, LOCAL_CONTEXT, { owner: OWNER, key: "GENERATED" })).length;
    const created = runs.filter((r) => r.code === 0 && (JSON.parse(r.out) as { created: boolean }).created).length;
    return { callers, versions, errors: runs.filter((r) => r.code !== 0).length, created, ms };
  } finally {
    await core.close();
  }
}

export async function measureRender(quick: boolean): Promise<RenderReport> {
  const dir = mkdtempSync(join(tmpdir(), "coffer-bench-render-"));
  try {
    const env = { COFFER_HOME: dir, COFFER_KEK_PROVIDER: "file" };
    const core = await createCore(loadConfig({ env }));
    const renders = quick ? 20 : 100;
    let renderMs = 0;
    let revealsMs = 0;
    try {
      progress(`render: seeding ${String(REFS)} secrets and a template referencing each`);
      await seed(core);
      await core.templates.render(ACTOR, LOCAL_CONTEXT, { owner: OWNER, name: "bench.toml" }); // warm-up
      progress(
        `render: ${String(renders)} renders of ${String(REFS)} references, beside ${String(renders * REFS)} single reveals, alternating`,
      );
      const reveals = async (from: number, to: number): Promise<void> => {
        for (let r = from; r < to; r += 1)
          for (let i = 0; i < REFS; i += 1) {
            const { value } = await core.secrets.reveal(ACTOR, LOCAL_CONTEXT, {
              owner: OWNER,
              key: `K_${String(i).padStart(3, "0")}`,
              reason: "bench",
            });
            value.wipe();
          }
      };
      const render = async (from: number, to: number): Promise<void> => {
        for (let r = from; r < to; r += 1)
          (await core.templates.render(ACTOR, LOCAL_CONTEXT, { owner: OWNER, name: "bench.toml", reason: "bench" })).bytes.fill(0);
      };
      [revealsMs = 0, renderMs = 0] = await timeRounds(renders, Math.min(10, renders), [reveals, render]);
    } finally {
      await core.close();
    }
    progress("render: generate --if-missing from 8 concurrent processes");
    const race = await ifMissing(dir);
    const ratio = renderMs / revealsMs;
    return { machine: machine(), references: REFS, renders, renderMs, revealsMs, ratio, pass: ratio <= TARGET_RATIO, ifMissing: race };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatRenderText(r: RenderReport): string {
  const perRender = r.renderMs / r.renders;
  const perReveals = r.revealsMs / r.renders;
  return [
    `Coffer render benchmark (SQLite, ${String(r.machine.cores)} × ${r.machine.cpu}, load average ${String(r.machine.loadAvg)})`,
    `  render of a template with ${String(r.references)} references: ${perRender.toFixed(1)} ms`,
    `  ${String(r.references)} single reveals through the core:        ${perReveals.toFixed(1)} ms`,
    `  ratio render / reveals: ${r.ratio.toFixed(2)} (target ≤ ${String(TARGET_RATIO)}) ${r.pass ? "PASS" : "MISS"}`,
    `  generate --if-missing, ${String(r.ifMissing.callers)} concurrent processes: ${String(r.ifMissing.versions)} version(s), ${String(r.ifMissing.created)} created, ${String(r.ifMissing.errors)} error(s) in ${r.ifMissing.ms.toFixed(0)} ms ${r.ifMissing.versions === 1 && r.ifMissing.errors === 0 ? "PASS" : "MISS"}`,
  ].join("\n");
}
