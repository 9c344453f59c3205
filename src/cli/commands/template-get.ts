import { arg, defineCommand, json, type Options } from "../command.ts";
import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";

export const command = defineCommand({
  args: [arg("owner"), arg("name")],
  options: [json],
  example: "coffer template get project/acme backup.toml",
});

/** `coffer template get <owner> <name>`: the template's text, never a secret's value. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const t = await withBackend(io, globalOptions(args), (b) => b.templates.get({ owner: args.owner, name: args.name }));
  if (args.json) printJson(io, t);
  else io.stdout.write(t.text);
  return 0;
}
