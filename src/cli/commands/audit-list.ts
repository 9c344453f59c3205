import { CofferError, invalidInput } from "../../core/errors/index.ts";
import { parseTimePoint } from "../../core/model/index.ts";
import type { Io } from "../io.ts";
import { withBackend } from "../backend.ts";
import { printJson, printTable } from "../output.ts";
import { flag, num, str } from "./args.ts";
import { globalOptions } from "./args.ts";

/**
 * `coffer audit list`: newest first (at most `--limit`, default 100); `--tail N` the newest N
 * oldest first, as `tail` prints them; `--oldest-first` from the start of the log (page on with
 * `--after <seq>`). `--since`/`--until` take ISO 8601 or a time ago (`1h`, `7d`), resolved here
 * so local and remote mode select the same events.
 */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const ownerText = str(args, "owner");
  const tail = num(args, "tail");
  const limit = num(args, "limit");
  if (tail !== undefined && limit !== undefined)
    throw new CofferError("USAGE", "--tail and --limit cannot be combined: --tail N is the newest N events");
  if (tail !== undefined && flag(args, "oldestFirst"))
    throw new CofferError("USAGE", "--tail and --oldest-first cannot be combined: --tail N is the newest N events, printed oldest first");
  const count = tail ?? limit ?? 100;
  if (count < 1) throw invalidInput(tail === undefined ? "limit" : "tail", "must be a whole number from 1");
  const now = new Date();
  const since = str(args, "since");
  const until = str(args, "until");
  const sinceAt = since === undefined ? null : parseTimePoint(since, "since", now);
  const untilAt = until === undefined ? null : parseTimePoint(until, "until", now);
  if (sinceAt !== null && untilAt !== null && untilAt <= sinceAt) throw invalidInput("until", "must be later than --since");
  const listed = await withBackend(io, args, globalOptions(args), (b) =>
    b.auditList({
      owner: ownerText ?? null,
      action: str(args, "action") ?? null,
      actor: str(args, "actor") ?? null,
      since: sinceAt,
      until: untilAt,
      order: flag(args, "oldestFirst") ? "asc" : "desc",
      afterSeq: num(args, "after") ?? 0,
      limit: count,
    }),
  );
  const events = tail === undefined ? listed : [...listed].reverse();
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
