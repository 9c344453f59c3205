import type { Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, json, arg, int, type Options } from "../command.ts";

export const command = defineCommand({
  args: [arg("owner"), arg("key")],
  options: [int("expectVersion", "--expect-version <n>", "delete only if the current version is n"), json],
  example: "coffer secrets unset project/acme OLD_API_KEY",
});

export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const owner = args.owner;
  const key = args.key;
  const expectedVersion = args.expectVersion;
  const view = await withBackend(io, globalOptions(args), (b) =>
    b.unset({ owner, key, ...(expectedVersion === undefined ? {} : { expectedVersion }) }),
  );
  if (args.json) printJson(io, view);
  else io.stdout.write(`deleted ${view.owner} ${view.key} (was v${String(view.version)})\n`);
  return 0;
}
