import { dirname, resolve } from "node:path";
import { CofferError } from "../../core/errors/index.ts";
import { parsePolicy, type Policy } from "../../files/index.ts";
import { str } from "./args.ts";
import { readText } from "./file-common.ts";

/** Loads `--policy` (default ./coffer.policy.yaml); secret files resolve against its directory. */
export async function loadPolicy(args: Record<string, unknown>): Promise<{ policy: Policy; base: string }> {
  const path = str(args, "policy") ?? "./coffer.policy.yaml";
  const text = await readText(path);
  if (text === null) throw new CofferError("NOT_FOUND", `${path}: policy file not found (use --policy <path>)`, { field: "policy" });
  return { policy: parsePolicy(text, path), base: dirname(resolve(path)) };
}
