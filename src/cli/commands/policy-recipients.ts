import { findSecret } from "../../files/index.ts";
import { writeLine, type Io } from "../io.ts";
import { printJson } from "../output.ts";
import { loadPolicy } from "./policy-common.ts";
import { defineCommand, arg, type Options } from "../command.ts";
import { policyOptions } from "./policy-options.ts";

export const command = defineCommand({
  args: [arg("group"), arg("secret")],
  options: [...policyOptions],
  example: "coffer policy recipients prod db-password",
});

/** `coffer policy recipients <group> <secret>`: the computed recipients, one per line (name, role, kind, key). */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const { policy } = await loadPolicy(args);
  const s = findSecret(policy, args.group, args.secret);
  if (args.json) {
    printJson(io, { group: s.group, secret: s.name, file: s.file, recipients: s.recipients });
    return 0;
  }
  for (const r of s.recipients) writeLine(io.stdout, `${r.name}\t${r.role}\t${r.kind}\t${r.key}`);
  return 0;
}
