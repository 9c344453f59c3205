import type { Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson, printTable } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, int, intOr, json, text, type Options } from "../command.ts";

export const command = defineCommand({
  options: [
    text("owner", "--owner <owner>", "only events for this owner"),
    text("action", "--action <action>", "only this action, e.g. secret.reveal"),
    int("after", "--after <seq>", "only events after this sequence number"),
    intOr("limit", "--limit <n>", "at most n events", 100),
    json,
  ],
  example: "coffer audit list --owner project/acme --action secret.reveal",
});

export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const ownerText = args.owner;
  const events = await withBackend(io, globalOptions(args), (b) =>
    b.auditList({
      owner: ownerText ?? null,
      action: args.action ?? null,
      afterSeq: args.after ?? 0,
      limit: args.limit,
    }),
  );
  if (args.json) {
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
