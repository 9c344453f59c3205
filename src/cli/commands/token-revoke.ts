import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson } from "../output.ts";
import { flag, globalOptions, pos, required } from "./args.ts";

export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const id = required(pos(args, 0), "<id>");
  const view = await withBackend(io, globalOptions(args), (b) => b.tokens.revoke(id));
  if (flag(args, "json")) printJson(io, view);
  else io.stdout.write(`revoked token ${view.id} (${view.name})\n`);
  return 0;
}
