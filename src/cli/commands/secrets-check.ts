import type { CheckReport } from "../../core/service/index.ts";
import { withBackend } from "../choose-backend.ts";
import { writeLine, type Io } from "../io.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, json, optionalArg, type Options } from "../command.ts";

export const command = defineCommand({
  args: [optionalArg("owner")],
  options: [json],
  example: "coffer secrets check",
});

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
 * `coffer secrets check [owner] [--json]`: a report, exit 0 whatever it finds (admin only, locally
 * or on the server: it compares values across owners, which a scoped token must not learn).
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const owner = args.owner;
  const report = await withBackend(io, globalOptions(args), (b) => b.checkValues(owner === undefined ? {} : { owner }));
  if (args.json) printJson(io, report);
  else printReport(io, report);
  return 0;
}
