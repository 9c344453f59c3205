import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson } from "../output.ts";
import { flag, globalOptions, pos, required } from "./args.ts";

/** `coffer keys rekey <owner>`: a new scope key for the owner, every data key rewrapped under it. */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const owner = required(pos(args, 0), "<owner>");
  const report = await withBackend(io, globalOptions(args), (b) => b.keys.rekey(owner));
  if (flag(args, "json")) printJson(io, report);
  else
    io.stdout.write(
      `rekeyed ${report.owner}: new scope key ${report.scopeKeyId}, ${String(report.rewrapped)} data keys rewrapped, ${String(report.retiredScopeKeys)} old scope key(s) deleted\n`,
    );
  return 0;
}
