import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, json, arg, type Options } from "../command.ts";

export const command = defineCommand({
  args: [arg("id")],
  options: [json],
  example: "coffer token revoke t_31b6452e993ac6fd",
});

export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const id = args.id;
  const view = await withBackend(io, globalOptions(args), (b) => b.tokens.revoke(id));
  if (args.json) printJson(io, view);
  else io.stdout.write(`revoked token ${view.id} (${view.name})\n`);
  return 0;
}
