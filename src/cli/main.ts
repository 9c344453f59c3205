import type { Io } from "./io.ts";
import { reportError } from "./report-error.ts";
import { parseRunArgs } from "./run-args.ts";

/**
 * Runs one command and returns its exit status; the only place that catches. `coffer run`
 * takes a fast path that does not load commander (it is on the start-up path of the user's
 * program); everything else, `run --help` included, goes through commander, loaded lazily.
 */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  try {
    if (argv[0] === "run") {
      const args = parseRunArgs(argv.slice(1));
      if (args !== null) return await (await import("./commands/run.ts")).run(args, io);
    }
    return await (await import("./program.ts")).runProgram(argv, io);
  } catch (e) {
    return reportError(io, e);
  }
}
