import type { Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson, printVersions } from "../output.ts";
import { flag, pos, required } from "./args.ts";
import { globalOptions } from "./args.ts";

export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const owner = required(pos(args, 0), "<owner>");
  const key = required(pos(args, 1), "<key>");
  const versions = await withBackend(io, globalOptions(args), (b) => b.history({ owner, key }));
  if (flag(args, "json")) printJson(io, versions);
  else printVersions(io, versions);
  return 0;
}
