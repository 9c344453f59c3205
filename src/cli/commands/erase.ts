import { CofferError } from "../../core/errors/index.ts";
import { parseRetention, type EraseReport } from "../../core/service/index.ts";
import { withBackend } from "../choose-backend.ts";
import { isInteractive, writeLine, type Io } from "../io.ts";
import { printJson } from "../output.ts";
import { promptLine } from "../prompt.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, arg, flag, json, text, type Options } from "../command.ts";

export const command = defineCommand({
  args: [arg("owner")],
  options: [
    flag("yes", "--yes", "do not ask for confirmation (required when not interactive)"),
    text(
      "backupRetention",
      "--backup-retention <duration>",
      "how long database backups are kept, e.g. 30d, 12h, 90m (default: $COFFER_BACKUP_RETENTION)",
    ),
    json,
  ],
  example: "coffer erase project/old-customer --backup-retention 30d",
});

/** The owner typed again on a terminal, or `--yes`; nothing else confirms an erase. */
async function confirmation(args: Options<typeof command>, io: Io, owner: string): Promise<string> {
  if (args.yes) return owner;
  if (!isInteractive(io)) throw new CofferError("CONFIRMATION_REQUIRED", "erasing needs confirmation: run on a terminal, or pass --yes");
  io.stderr.write(`This deletes every secret, version and scope key of ${owner}, for good.\n`);
  return (await promptLine(io, `Type ${owner} to confirm: `, false)).trim();
}

function printReport(io: Io, r: EraseReport): void {
  const out = (s: string): void => {
    writeLine(io.stdout, s);
  };
  out(`erased ${r.owner}: ${String(r.secrets)} secret(s), ${String(r.versions)} version(s), ${String(r.scopeKeys)} scope key(s)`);
  out(`kids that wrapped the erased scope keys: ${r.kids.join(", ") || "none"}`);
  out(
    r.liveDatabase === null
      ? `live database: rows deleted, but NOT yet scrubbed from the database files: ${r.scrub.detail}`
      : `live database: unrecoverable since ${r.liveDatabase}`,
  );
  const b = r.backups;
  if (b.backupRetention === null) {
    out("database backups: no backup retention given (--backup-retention or COFFER_BACKUP_RETENTION);");
    out(`  without a retention, backups taken before now stay decryptable until kid(s) ${r.kids.join(", ")} are retired`);
  } else {
    out(`database backups: backups older than the erase age out at ${b.agedOutAt ?? "?"} (retention ${b.backupRetention})`);
  }
  if (b.kidRetiredAt !== null) out(`  kid(s) ${r.kids.join(", ")} all retired at ${b.kidRetiredAt}`);
  out(
    b.unrecoverableEverywhereAt === null
      ? "unrecoverable everywhere: not yet known"
      : `unrecoverable everywhere from ${b.unrecoverableEverywhereAt}`,
  );
}

/**
 * `coffer erase <owner> [--yes] [--backup-retention D] [--json]`: crypto-erase of one owner
 * (audited, all or nothing), then from when its data is unrecoverable in the live database and
 * in backups. Prints counts, kids and times; never a value.
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const owner = args.owner;
  const given = args.backupRetention;
  // Checked here, so the mistake reads the same whichever backend would have taken it.
  if (given !== undefined) parseRetention(given, "--backup-retention");
  const confirm = await confirmation(args, io, owner);
  const report = await withBackend(io, globalOptions(args), (b) =>
    b.erase({ owner, confirm, ...(given === undefined ? {} : { backupRetention: given }) }),
  );
  if (args.json) printJson(io, report);
  else printReport(io, report);
  return 0;
}
