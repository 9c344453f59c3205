import { LOCAL_CONTEXT, type CheckReport } from "../../core/service/index.ts";
import { writeLine, type Io } from "../io.ts";
import { withCore } from "../local-core.ts";
import { printJson } from "../output.ts";
import { flag, globalOptions, pos } from "./args.ts";

function printReport(io: Io, r: CheckReport): void {
  const out = (s: string): void => {
    writeLine(io.stdout, s);
  };
  out(`checked ${String(r.secrets)} secret(s) by their value HMACs (nothing decrypted)`);
  for (const g of r.reused) out(`reused value: ${g.secrets.map((s) => `${s.owner} ${s.key} v${String(s.version)}`).join(", ")}`);
  for (const d of r.drift) out(`drift: ${d.key} has ${String(d.distinctValues)} different values across ${d.owners.join(", ")}`);
  for (const u of r.unchecked)
    out(`unchecked: ${u.owner} ${u.key} v${String(u.version)} has no HMAC under the current key (coffer secrets rotate computes it)`);
  if (r.reused.length + r.drift.length + r.unchecked.length === 0) out("no reused values, no drift, every value checked");
}

/**
 * `coffer secrets check [owner] [--json]`: a report, exit 0 whatever it finds (local mode only:
 * it compares values across owners, which a scoped token must not learn).
 */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const owner = pos(args, 0);
  const report = await withCore(io, globalOptions(args), (core, actor) =>
    core.admin.valueCheck.check(actor, LOCAL_CONTEXT, owner === undefined ? {} : { owner }),
  );
  if (flag(args, "json")) printJson(io, report);
  else printReport(io, report);
  return 0;
}
