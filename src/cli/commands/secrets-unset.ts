import type { Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson } from "../output.ts";
import { flag, num, pos, required } from "./args.ts";
import { globalOptions } from "./args.ts";

export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const owner = required(pos(args, 0), "<owner>");
  const key = required(pos(args, 1), "<key>");
  const expectedVersion = num(args, "expectVersion");
  const view = await withBackend(io, globalOptions(args), (b) =>
    b.unset({ owner, key, ...(expectedVersion === undefined ? {} : { expectedVersion }) }),
  );
  if (flag(args, "json")) printJson(io, view);
  else io.stdout.write(`deleted ${view.owner} ${view.key} (was v${String(view.version)})\n`);
  return 0;
}
