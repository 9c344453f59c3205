import { isCofferError } from "../core/errors/index.ts";
import { EXIT_STATUS } from "./exit.ts";
import type { Io } from "./io.ts";

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
