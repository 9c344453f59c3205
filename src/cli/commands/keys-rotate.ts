import { parseRetention } from "../../core/service/index.ts";
import type { KeysRotated } from "../backend.ts";
import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, flag, intOr, json, text, type Options } from "../command.ts";

export const command = defineCommand({
  options: [
    flag("resume", "--resume", "only finish an interrupted rotation (running rotate again does the same first)"),
    text("kid", "--kid <kid>", "the kid of the new key (default: k<today>, e.g. k2026-12-02)"),
    text("toKid", "--to-kid <kid>", "switch to this kid of the keyring (a key you created, e.g. in a cloud KMS) instead of minting"),
    text(
      "backupRetention",
      "--backup-retention <duration>",
      "how long database backups are kept, to say when the old kid can be retired (default: $COFFER_BACKUP_RETENTION)",
    ),
    intOr("batch", "--batch <n>", "keys per transaction", 500),
    json,
  ],
  example: "coffer keys rotate --backup-retention 30d",
});

/**
 * `coffer keys rotate [--kid K | --to-kid K] [--resume] [--batch N] [--backup-retention D]`:
 * mints a new master key where the provider can (or switches to `--to-kid`), makes it active
 * and rewraps every scope key and internal key under it, a batch per transaction, printing
 * progress on stderr. An interrupted rotation is finished first by running it again.
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const batchSize = args.batch;
  const opts = globalOptions(args);
  const given = args.backupRetention;
  const backupRetentionMs = given === undefined ? undefined : parseRetention(given, "--backup-retention");
  const kid = args.kid;
  const toKid = args.toKid;
  const report = await withBackend(io, opts, (b) =>
    b.keys.rotate({
      batchSize,
      ...(backupRetentionMs === undefined ? {} : { backupRetentionMs }),
      resume: args.resume,
      ...(kid === undefined ? {} : { kid }),
      ...(toKid === undefined ? {} : { toKid }),
      onProgress: (p) => {
        io.stderr.write(
          io.stderr.isTTY === true
            ? `\r${progressBar(p.done, p.total)} ${p.toKid}`
            : `rotating to ${p.toKid}: ${String(p.done)}/${String(p.total)} keys rewrapped\n`,
        );
      },
    }),
  );
  if (io.stderr.isTTY === true) io.stderr.write("\n");
  if (args.json) printJson(io, report);
  else printReport(io, report);
  return 0;
}

function printReport(io: Io, r: KeysRotated): void {
  const from = r.fromKid !== null && r.fromKid !== r.toKid ? ` from ${r.fromKid}` : "";
  const counts =
    r.rewrappedScopeKeys === null || r.rewrappedInternalKeys === null
      ? `${String(r.done)} keys rewrapped`
      : `${String(r.rewrappedScopeKeys)} scope keys and ${String(r.rewrappedInternalKeys)} internal keys rewrapped`;
  io.stdout.write(
    `${r.resumed ? "resumed and finished" : "finished"} rotation ${r.jobId}${from} to ${r.toKid}${r.minted ? " (new key)" : ""}: ${counts}\n`,
  );
  if (r.fromKid === null || r.fromKid === r.toKid) return;
  if (r.oldKidSafeToRetireAt !== null) {
    io.stdout.write(
      `${r.fromKid} wraps nothing now; it can be retired from ${r.oldKidSafeToRetireAt}, when backups older than this rotation have aged out: coffer keys retire ${r.fromKid}\n`,
    );
  } else {
    io.stdout.write(
      `${r.fromKid} wraps nothing now; retire it (coffer keys retire ${r.fromKid}) once every database backup older than this rotation has aged out (set --backup-retention or COFFER_BACKUP_RETENTION to have the date computed)\n`,
    );
  }
}

/** `[#######.............]  35% 3500/10000`: a terminal progress line, redrawn in place. */
export function progressBar(done: number, total: number, width = 30): string {
  const fraction = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(fraction * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}% ${String(done)}/${String(total)}`;
}
