import { arg, defineCommand, json, type Options } from "../command.ts";
import { withBackend } from "../choose-backend.ts";
import { writeLine, type Io } from "../io.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";

export const command = defineCommand({
  args: [arg("owner"), arg("name")],
  options: [json],
  example: "coffer template delete project/acme backup.toml",
});

/** `coffer template delete <owner> <name>`. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const r = { owner: args.owner, name: args.name };
  await withBackend(io, globalOptions(args), (b) => b.templates.delete(r));
  if (args.json) printJson(io, { deleted: true, ...r });
  else writeLine(io.stdout, `deleted template ${r.owner} ${r.name}`);
  return 0;
}
