import { existsSync } from "node:fs";
import { join } from "node:path";
import { checkPolicy } from "../../files/index.ts";
import { writeLine, type Io } from "../io.ts";
import { printJson } from "../output.ts";
import { loadPolicy } from "./policy-common.ts";
import { defineCommand, type Options } from "../command.ts";
import { policyOptions } from "./policy-options.ts";

export const command = defineCommand({
  options: [...policyOptions],
  example: "coffer policy check --policy ./coffer.policy.yaml",
});

/**
 * `coffer policy check`: validation errors exit non-zero (INVALID_INPUT, naming the field and
 * the valid names); warnings (unused recipients, secrets readable by nobody, missing files) are
 * listed and exit 0.
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const { policy, base } = await loadPolicy(args);
  const findings = checkPolicy(policy);
  for (const s of policy.secrets)
    if (!existsSync(join(base, s.file)))
      findings.push({ level: "warning", where: `groups.${s.group}.secrets.${s.name}`, message: `file ${s.file} does not exist yet` });
  if (args.json) {
    printJson(io, { ok: true, groups: policy.groups.size, secrets: policy.secrets.length, findings });
    return 0;
  }
  for (const f of findings) writeLine(io.stdout, `${f.level}: ${f.where}: ${f.message}`);
  writeLine(
    io.stdout,
    `policy ok: ${String(policy.groups.size)} groups, ${String(policy.secrets.length)} secrets, ${String(findings.length)} warnings`,
  );
  return 0;
}
