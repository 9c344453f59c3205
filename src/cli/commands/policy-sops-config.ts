import { join } from "node:path";
import { sopsConfigText } from "../../files/index.ts";
import { writeLine, type Io } from "../io.ts";
import { writeAtomic } from "./file-common.ts";
import { loadPolicy } from "./policy-common.ts";
import { defineCommand, flag, text, type Options } from "../command.ts";
import { policyOptions } from "./policy-options.ts";

export const command = defineCommand({
  options: [
    ...policyOptions,
    text("output", "--output <path>", "where to write (default: .sops.yaml beside the policy)"),
    flag("stdout", "--stdout", "print instead of writing"),
  ],
  example: "coffer policy sops-config --stdout",
});

/** `coffer policy sops-config`: writes `.sops.yaml` (beside the policy) with one creation rule per secret file. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const { policy, base } = await loadPolicy(args);
  const text = sopsConfigText(policy);
  if (args.stdout) {
    io.stdout.write(text);
    return 0;
  }
  const out = args.output ?? join(base, ".sops.yaml");
  await writeAtomic(out, new TextEncoder().encode(text));
  writeLine(io.stderr, `sops-config: wrote ${out} (${String(policy.secrets.length)} creation rules)`);
  return 0;
}
