import { EXIT_STATUS } from "../exit.ts";
import type { Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson } from "../output.ts";
import { flag, str } from "./args.ts";
import { globalOptions } from "./args.ts";

/**
 * Exits 0 when the chain is intact (and `--anchor <seq>:<mac>` is still in it, and every
 * secret's state agrees with it); otherwise names each problem and exits 7.
 */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const anchor = str(args, "anchor") ?? null;
  const result = await withBackend(io, globalOptions(args), (b) => b.auditVerify(anchor));
  if (flag(args, "json")) printJson(io, result);
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
