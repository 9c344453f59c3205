import { LOCAL_CONTEXT } from "../../core/service/index.ts";
import type { Io } from "../io.ts";
import { withCore } from "../local-core.ts";
import { printJson } from "../output.ts";
import { flag, globalOptions, pos, required } from "./args.ts";

export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const id = required(pos(args, 0), "<id>");
  const view = await withCore(io, globalOptions(args), (core, actor) => core.tokens.revoke(actor, LOCAL_CONTEXT, id));
  if (flag(args, "json")) printJson(io, view);
  else io.stdout.write(`revoked token ${view.id} (${view.name})\n`);
  return 0;
}
