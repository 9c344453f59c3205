import type { Options } from "./command.ts";
import { remoteAddress } from "./choose-backend.ts";
import { globalOptions } from "./commands/args.ts";
import type { command } from "./commands/run.ts";
import type { Io } from "./io.ts";
import { localConfig } from "./local-core.ts";
import { reportError } from "./report-error.ts";
import { parseRunArgs } from "./run-args.ts";

/**
 * Set by scripts/bundle.mjs to the CLI's own bundle (`./main.js`, beside this one). Undefined
 * when running from source.
 */
declare const CLI_MAIN: string | undefined;

/**
 * Whether this bundle runs it: a local run on SQLite, without `--file`, the path whose start-up
 * is measured (docs/benchmarks.md). A configuration error is the CLI's to report.
 */
function runsHere(args: Options<typeof command>, io: Io): boolean {
  if (args.file !== undefined) return false;
  const opts = globalOptions(args);
  try {
    return remoteAddress(io, opts) === null && localConfig(io, opts).store.kind === "sqlite";
  } catch {
    return false;
  }
}

/**
 * `coffer run` as a program of its own: bin/coffer.js loads this one file (dist/bundle/run-main.js,
 * bundled without chunks) instead of the twenty-odd chunks of the CLI's run path, each a module
 * Node resolves, reads, compiles and links on every start. It holds only the local SQLite run:
 * anything else (`--help`, `--file`, remote mode, PostgreSQL) is handed whole, before this bundle
 * did anything, to the CLI's own `main` (dist/bundle/main.js), so no value or error ever crosses
 * between the two bundles' copies of a class.
 */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  if (argv[0] === "run") {
    try {
      const args = parseRunArgs(argv.slice(1));
      if (args !== null && runsHere(args, io)) return await (await import("./commands/run.ts")).run(args, io);
    } catch (e) {
      return reportError(io, e);
    }
  }
  const cli = (await import(typeof CLI_MAIN === "string" ? CLI_MAIN : "./main.ts")) as typeof import("./main.ts");
  return cli.main(argv, io);
}
