import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, json, arg, type Options } from "../command.ts";

export const command = defineCommand({
  args: [arg("kid")],
  options: [json],
  example: "coffer keys retire primary",
});

/** `coffer keys retire <kid>`: refused while anything depends on the kid. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const kid = args.kid;
  const report = await withBackend(io, globalOptions(args), (b) => b.keys.retire(kid));
  if (args.json) printJson(io, report);
  else
    io.stdout.write(
      `retired ${report.kid} at ${report.retiredAt}; delete it from the keyring (and its backups) once database backups older than the rotation have aged out\n`,
    );
  return 0;
}
