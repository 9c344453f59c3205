import type { Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson, printSecretTable } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, flag, json, optionalArg, text, type Options } from "../command.ts";

export const command = defineCommand({
  args: [optionalArg("owner")],
  options: [
    text("prefix", "--prefix <p>", "only keys starting with p"),
    flag("meta", "--meta", "show metadata"),
    flag("deleted", "--deleted", "include deleted secrets"),
    json,
  ],
  example: "coffer secrets list project/acme --prefix DB_",
});

export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const owner = args.owner;
  const prefix = args.prefix;
  const items = await withBackend(io, globalOptions(args), (b) =>
    b.listAll({
      ...(owner === undefined ? {} : { owner }),
      ...(prefix === undefined ? {} : { prefix }),
      includeDeleted: args.deleted,
    }),
  );
  if (args.json) printJson(io, items);
  else printSecretTable(io, items, args.meta, args.deleted);
  return 0;
}
