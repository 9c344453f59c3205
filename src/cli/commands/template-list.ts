import { arg, defineCommand, json, type Options } from "../command.ts";
import { withBackend } from "../choose-backend.ts";
import { writeLine, type Io } from "../io.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";

export const command = defineCommand({
  args: [arg("owner")],
  options: [json],
  example: "coffer template list project/acme",
});

/** `coffer template list <owner>`. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const items = await withBackend(io, globalOptions(args), (b) => b.templates.list(args.owner));
  if (args.json) printJson(io, items);
  else for (const t of items) writeLine(io.stdout, `${t.owner} ${t.name} ${t.format ?? "-"} updated ${t.updatedAt} by ${t.updatedBy}`);
  return 0;
}
