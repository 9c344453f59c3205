import type { Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson } from "../output.ts";
import { flag, pos, required } from "./args.ts";
import { globalOptions } from "./args.ts";

export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const owner = required(pos(args, 0), "<owner>");
  const key = required(pos(args, 1), "<key>");
  const regenerate = flag(args, "regenerate");
  const view = await withBackend(io, globalOptions(args), (b) => (regenerate ? b.regenerate({ owner, key }) : b.rotate({ owner, key })));
  if (flag(args, "json")) printJson(io, view);
  else if (regenerate) io.stdout.write(`regenerated ${view.owner} ${view.key}: a new random value as v${String(view.version)}\n`);
  else io.stdout.write(`rotated ${view.owner} ${view.key}: every version re-encrypted under a new data key\n`);
  return 0;
}
