import { CofferError } from "../../core/errors/index.ts";
import { Secret } from "../../core/secret/index.ts";
import { isInteractive, type Io } from "../io.ts";
import { promptLine } from "../prompt.ts";

/** The environment variable a bundle passphrase comes from when there is no terminal. */
export const PASSPHRASE_ENV = "COFFER_BUNDLE_PASSPHRASE";

/**
 * A bundle passphrase: `$COFFER_BUNDLE_PASSPHRASE`, else a hidden prompt on a terminal (asked
 * twice when `confirm`, i.e. when sealing). Never from argv. @throws CofferError USAGE, INVALID_INPUT.
 */
export async function bundlePassphrase(io: Io, confirm: boolean): Promise<Secret> {
  const env = io.env[PASSPHRASE_ENV];
  if (env !== undefined && env !== "") return Secret.fromString(env);
  if (!isInteractive(io))
    throw new CofferError("USAGE", `a bundle passphrase is needed: set ${PASSPHRASE_ENV}, or run on a terminal to be prompted`);
  const first = await promptLine(io, "Bundle passphrase (hidden): ", true);
  if (first === "") throw new CofferError("INVALID_INPUT", "passphrase: must not be empty", { field: "passphrase" });
  if (confirm && (await promptLine(io, "Again (hidden): ", true)) !== first)
    throw new CofferError("INVALID_INPUT", "passphrase: the two entries differ", { field: "passphrase" });
  return Secret.fromString(first);
}
