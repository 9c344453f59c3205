import { isCofferError } from "../core/errors/index.ts";
import { EXIT_STATUS } from "./exit.ts";
import type { Io } from "./io.ts";
import { parseRunArgs } from "./run-args.ts";

/** Maps any failure to one line on stderr and an exit status; never a stack trace. */
export function reportError(io: Io, e: unknown): number {
  if (isCofferError(e)) {
    io.stderr.write(`error[${e.code}]: ${e.message}\n`);
    return EXIT_STATUS[e.code];
  }
  io.stderr.write("error[INTERNAL]: an unexpected error occurred; run with COFFER_LOG_LEVEL=debug for details\n");
  if (io.env["COFFER_LOG_LEVEL"] === "debug" || io.env["COFFER_LOG_LEVEL"] === "trace") {
    // The name, code and stack frames, never the message: a library's message can quote its
    // input (a value passed to spawn, a parameter of a failed query).
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code;
      const frames = (e.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
      io.stderr.write(`${e.name}${typeof code === "string" ? ` (${code})` : ""}\n${frames.join("\n")}\n`);
    } else io.stderr.write("non-error thrown\n");
  }
  return EXIT_STATUS.INTERNAL;
}

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
