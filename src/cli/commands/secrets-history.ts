import type { Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson, printVersions } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, json, arg, type Options } from "../command.ts";

export const command = defineCommand({
  args: [arg("owner"), arg("key")],
  options: [json],
  example: "coffer secrets history project/acme DB_PASSWORD",
});

export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const owner = args.owner;
  const key = args.key;
  const versions = await withBackend(io, globalOptions(args), (b) => b.history({ owner, key }));
  if (args.json) printJson(io, versions);
  else printVersions(io, versions);
  return 0;
}
