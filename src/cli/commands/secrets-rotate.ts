import type { Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, json, arg, flag, type Options } from "../command.ts";

export const command = defineCommand({
  args: [arg("owner"), arg("key")],
  options: [flag("regenerate", "--regenerate", "write a fresh random value made with the secret's generation policy"), json],
  example: "coffer secrets rotate project/acme DB_PASSWORD",
});

export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const owner = args.owner;
  const key = args.key;
  const regenerate = args.regenerate;
  const view = await withBackend(io, globalOptions(args), (b) => (regenerate ? b.regenerate({ owner, key }) : b.rotate({ owner, key })));
  if (args.json) printJson(io, view);
  else if (regenerate) io.stdout.write(`regenerated ${view.owner} ${view.key}: a new random value as v${String(view.version)}\n`);
  else io.stdout.write(`rotated ${view.owner} ${view.key}: every version re-encrypted under a new data key\n`);
  return 0;
}
