import { loadConfig } from "../../core/config/index.ts";
import { migrateDatabase } from "../../core/service/index.ts";
import type { Io } from "../io.ts";
import { printJson } from "../output.ts";
import { flag, globalOptions } from "./args.ts";
import { refuseRemote } from "../choose-backend.ts";

/** Applies pending migrations (or, with --status, lists them). Needs no key. */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  refuseRemote(io, globalOptions(args), "migrate");
  const config = loadConfig({ env: io.env, flags: globalOptions(args) });
  const status = flag(args, "status");
  const r = await migrateDatabase(config, status);
  if (flag(args, "json")) printJson(io, r);
  else if (status)
    io.stdout.write(`${r.dialect}: ${String(r.alreadyApplied.length)} applied, pending: ${r.pending.join(", ") || "none"}\n`);
  else io.stdout.write(r.applied.length > 0 ? `${r.dialect}: applied ${r.applied.join(", ")}\n` : `${r.dialect}: schema is up to date\n`);
  return 0;
}
