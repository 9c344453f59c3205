import { CofferError, invalidInput } from "../../core/errors/index.ts";
import { parseTimePoint } from "../../core/model/index.ts";
import type { Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson, printTable } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, flag, int, json, text, type Options } from "../command.ts";

export const command = defineCommand({
  options: [
    text("owner", "--owner <owner>", "only events for this owner"),
    text("action", "--action <action>", "only this action, e.g. secret.reveal"),
    text("actor", "--actor <actor>", "only events by this actor, as listed, e.g. local:alice or token:<id>"),
    text("since", "--since <time>", "only events at or after this time: ISO 8601 (2026-12-01, 2026-12-01T09:00:00Z) or ago (30m, 1h, 7d)"),
    text("until", "--until <time>", "only events before this time (same forms as --since)"),
    int("after", "--after <seq>", "only events after this sequence number"),
    int("limit", "--limit <n>", "at most n events (default: 100)"),
    int("tail", "--tail <n>", "the newest n events, printed oldest first (like tail -n)"),
    flag("oldestFirst", "--oldest-first", "from the start of the log (page on with --after <last seq>)"),
    json,
  ],
  example: ["coffer audit list --tail 20", "coffer audit list --owner project/acme --action secret.reveal --since 7d"],
});

/**
 * `coffer audit list`: newest first (at most `--limit`, default 100); `--tail N` the newest N
 * oldest first, as `tail` prints them; `--oldest-first` from the start of the log (page on with
 * `--after <seq>`). `--since`/`--until` take ISO 8601 or a time ago (`1h`, `7d`), resolved here
 * so local and remote mode select the same events.
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const ownerText = args.owner;
  const tail = args.tail;
  const limit = args.limit;
  if (tail !== undefined && limit !== undefined)
    throw new CofferError("USAGE", "--tail and --limit cannot be combined: --tail N is the newest N events");
  if (tail !== undefined && args.oldestFirst)
    throw new CofferError("USAGE", "--tail and --oldest-first cannot be combined: --tail N is the newest N events, printed oldest first");
  const count = tail ?? limit ?? 100;
  if (count < 1) throw invalidInput(tail === undefined ? "limit" : "tail", "must be a whole number from 1");
  const now = new Date();
  const since = args.since;
  const until = args.until;
  const sinceAt = since === undefined ? null : parseTimePoint(since, "since", now);
  const untilAt = until === undefined ? null : parseTimePoint(until, "until", now);
  if (sinceAt !== null && untilAt !== null && untilAt <= sinceAt) throw invalidInput("until", "must be later than --since");
  const listed = await withBackend(io, globalOptions(args), (b) =>
    b.auditList({
      owner: ownerText ?? null,
      action: args.action ?? null,
      actor: args.actor ?? null,
      since: sinceAt,
      until: untilAt,
      order: args.oldestFirst ? "asc" : "desc",
      afterSeq: args.after ?? 0,
      limit: count,
    }),
  );
  const events = tail === undefined ? listed : [...listed].reverse();
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
