import { loadConfig } from "../../core/config/index.ts";
import { migrateDatabase } from "../../core/service/index.ts";
import type { Io } from "../io.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";
import { refuseRemote } from "../choose-backend.ts";
import { defineCommand, json, flag, type Options } from "../command.ts";

export const command = defineCommand({
  options: [flag("status", "--status", "only show applied and pending migrations"), json],
  example: "coffer --db postgres://coffer@db/coffer migrate",
});

/** Applies pending migrations (or, with --status, lists them). Needs no key. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  refuseRemote(io, globalOptions(args), "migrate");
  const config = loadConfig({ env: io.env, flags: globalOptions(args) });
  const status = args.status;
  const r = await migrateDatabase(config, status);
  if (args.json) printJson(io, r);
  else if (status)
    io.stdout.write(`${r.dialect}: ${String(r.alreadyApplied.length)} applied, pending: ${r.pending.join(", ") || "none"}\n`);
  else io.stdout.write(r.applied.length > 0 ? `${r.dialect}: applied ${r.applied.join(", ")}\n` : `${r.dialect}: schema is up to date\n`);
  return 0;
}
