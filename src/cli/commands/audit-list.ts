import type { Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson, printTable } from "../output.ts";
import { flag, num, str } from "./args.ts";
import { globalOptions } from "./args.ts";

export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const ownerText = str(args, "owner");
  const events = await withBackend(io, globalOptions(args), (b) =>
    b.auditList({
      owner: ownerText ?? null,
      action: str(args, "action") ?? null,
      afterSeq: num(args, "after") ?? 0,
      limit: num(args, "limit") ?? 100,
    }),
  );
  if (flag(args, "json")) {
    printJson(io, events);
    return 0;
  }
  printTable(
    io,
    ["SEQ", "AT", "ACTOR", "ACTION", "OWNER", "KEY", "VERSION", "OUTCOME", "REASON"],
    events.map((e) => [
      String(e.seq),
      e.at,
      e.actor,
      e.action,
      e.owner ?? "",
      e.key ?? "",
      e.version === null ? "" : `v${String(e.version)}`,
      e.outcome,
      e.reason ?? "",
    ]),
  );
  return 0;
}
