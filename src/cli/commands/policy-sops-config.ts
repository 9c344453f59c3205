import { join } from "node:path";
import { sopsConfigText } from "../../files/index.ts";
import { writeLine, type Io } from "../io.ts";
import { flag, str } from "./args.ts";
import { writeAtomic } from "./file-common.ts";
import { loadPolicy } from "./policy-common.ts";

/** `coffer policy sops-config`: writes `.sops.yaml` (beside the policy) with one creation rule per secret file. */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const { policy, base } = await loadPolicy(args);
  const text = sopsConfigText(policy);
  if (flag(args, "stdout")) {
    io.stdout.write(text);
    return 0;
  }
  const out = str(args, "output") ?? join(base, ".sops.yaml");
  await writeAtomic(out, new TextEncoder().encode(text));
  writeLine(io.stderr, `sops-config: wrote ${out} (${String(policy.secrets.length)} creation rules)`);
  return 0;
}
