import { EXIT_STATUS } from "../exit.ts";
import type { Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, json, text, type Options } from "../command.ts";

export const command = defineCommand({
  options: [
    text(
      "anchor",
      "--anchor <seq:mac>",
      "a head recorded earlier (audit list --json, or this command's output) that must still be in the chain",
    ),
    json,
  ],
  example: "coffer audit verify --anchor 42:9f3a…",
});

/**
 * Exits 0 when the chain is intact (and `--anchor <seq>:<mac>` is still in it, and every
 * secret's state agrees with it); otherwise names each problem and exits 7.
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const anchor = args.anchor ?? null;
  const result = await withBackend(io, globalOptions(args), (b) => b.auditVerify(anchor));
  if (args.json) printJson(io, result);
  else if (result.ok)
    io.stdout.write(
      `audit chain intact: ${String(result.events)} events, head seq ${String(result.headSeq)} mac ${result.headMac}${anchor === null ? "" : `; anchor ${anchor} found`}\n`,
    );
  else {
    for (const p of result.problems) io.stdout.write(`event ${String(p.seq)}: ${p.problem}\n`);
  }
  if (result.ok) return 0;
  io.stderr.write(`error[AUDIT_CHAIN_BROKEN]: the audit chain is broken at ${String(result.problems.length)} place(s)\n`);
  return EXIT_STATUS.AUDIT_CHAIN_BROKEN;
}
