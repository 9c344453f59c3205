import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, json, arg, type Options } from "../command.ts";

export const command = defineCommand({
  args: [arg("owner")],
  options: [json],
  example: "coffer keys rekey project/acme",
});

/** `coffer keys rekey <owner>`: a new scope key for the owner, every data key rewrapped under it. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const owner = args.owner;
  const report = await withBackend(io, globalOptions(args), (b) => b.keys.rekey(owner));
  if (args.json) printJson(io, report);
  else
    io.stdout.write(
      `rekeyed ${report.owner}: new scope key ${report.scopeKeyId}, ${String(report.rewrapped)} data keys rewrapped, ${String(report.retiredScopeKeys)} old scope key(s) deleted\n`,
    );
  return 0;
}
