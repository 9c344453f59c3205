import { findSecret } from "../../files/index.ts";
import { writeLine, type Io } from "../io.ts";
import { printJson } from "../output.ts";
import { flag, pos, required } from "./args.ts";
import { loadPolicy } from "./policy-common.ts";

/** `coffer policy recipients <group> <secret>`: the computed recipients, one per line (name, role, kind, key). */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const { policy } = await loadPolicy(args);
  const s = findSecret(policy, required(pos(args, 0), "<group>"), required(pos(args, 1), "<secret>"));
  if (flag(args, "json")) {
    printJson(io, { group: s.group, secret: s.name, file: s.file, recipients: s.recipients });
    return 0;
  }
  for (const r of s.recipients) writeLine(io.stdout, `${r.name}\t${r.role}\t${r.kind}\t${r.key}`);
  return 0;
}
