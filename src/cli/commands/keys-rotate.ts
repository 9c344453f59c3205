import { KekRotation, LOCAL_CONTEXT } from "../../core/service/index.ts";
import type { Io } from "../io.ts";
import { withCore } from "../local-core.ts";
import { printJson } from "../output.ts";
import { flag, globalOptions, num } from "./args.ts";

/**
 * `coffer keys rotate [--resume] [--batch N]`: rewraps every scope key and internal key under
 * the active kid, a batch per transaction, printing progress on stderr. An interrupted job is
 * finished by running it again (`--resume` says so explicitly; both do the same).
 */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const batchSize = num(args, "batch") ?? 500;
  const report = await withCore(io, globalOptions(args), (core, actor) =>
    new KekRotation(core).rotate(actor, LOCAL_CONTEXT, {
      batchSize,
      onProgress: (p) => {
        io.stderr.write(
          io.stderr.isTTY === true
            ? `\r${progressBar(p.done, p.total)} ${p.toKid}`
            : `rotating to ${p.toKid}: ${String(p.done)}/${String(p.total)} keys rewrapped\n`,
        );
      },
    }),
  );
  if (io.stderr.isTTY === true) io.stderr.write("\n");
  if (flag(args, "json")) printJson(io, report);
  else {
    io.stdout.write(
      `${report.resumed ? "resumed and finished" : "finished"} rotation ${report.jobId} to ${report.toKid}: ${String(report.rewrappedScopeKeys)} scope keys and ${String(report.rewrappedInternalKeys)} internal keys rewrapped\n`,
    );
  }
  return 0;
}

/** `[#######.............]  35% 3500/10000`: a terminal progress line, redrawn in place. */
export function progressBar(done: number, total: number, width = 30): string {
  const fraction = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(fraction * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}% ${String(done)}/${String(total)}`;
}
