import { LOCAL_CONTEXT } from "../../core/service/index.ts";
import type { Io } from "../io.ts";
import { withCore } from "../local-core.ts";
import { printJson } from "../output.ts";
import { flag, num, pos, required } from "./args.ts";
import { globalOptions } from "./args.ts";

export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const owner = required(pos(args, 0), "<owner>");
  const key = required(pos(args, 1), "<key>");
  const expectedVersion = num(args, "expectVersion");
  const view = await withCore(io, globalOptions(args), (core, actor) =>
    core.secrets.unset(actor, LOCAL_CONTEXT, { owner, key, ...(expectedVersion === undefined ? {} : { expectedVersion }) }),
  );
  if (flag(args, "json")) printJson(io, view);
  else io.stdout.write(`deleted ${view.owner} ${view.key} (was v${String(view.version)})\n`);
  return 0;
}
