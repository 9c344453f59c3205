import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson } from "../output.ts";
import { flag, globalOptions, pos, required } from "./args.ts";

/** `coffer keys retire <kid>`: refused while anything depends on the kid. */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const kid = required(pos(args, 0), "<kid>");
  const report = await withBackend(io, globalOptions(args), (b) => b.keys.retire(kid));
  if (flag(args, "json")) printJson(io, report);
  else
    io.stdout.write(
      `retired ${report.kid} at ${report.retiredAt}; delete it from the keyring (and its backups) once database backups older than the rotation have aged out\n`,
    );
  return 0;
}
