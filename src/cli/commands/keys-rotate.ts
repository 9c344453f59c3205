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
      onProgress: (p) => io.stderr.write(`rotating to ${p.toKid}: ${String(p.done)}/${String(p.total)} keys rewrapped\n`),
    }),
  );
  if (flag(args, "json")) printJson(io, report);
  else {
    io.stdout.write(
      `${report.resumed ? "resumed and finished" : "finished"} rotation ${report.jobId} to ${report.toKid}: ${String(report.rewrappedScopeKeys)} scope keys and ${String(report.rewrappedInternalKeys)} internal keys rewrapped\n`,
    );
  }
  return 0;
}
