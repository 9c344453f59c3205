import type { Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson, printSecretTable } from "../output.ts";
import { flag, pos, str } from "./args.ts";
import { globalOptions } from "./args.ts";

export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const owner = pos(args, 0);
  const prefix = str(args, "prefix");
  const items = await withBackend(io, globalOptions(args), (b) =>
    b.listAll({
      ...(owner === undefined ? {} : { owner }),
      ...(prefix === undefined ? {} : { prefix }),
      includeDeleted: flag(args, "deleted"),
    }),
  );
  if (flag(args, "json")) printJson(io, items);
  else printSecretTable(io, items, flag(args, "meta"));
  return 0;
}
