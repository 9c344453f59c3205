import { envFromDocument, formatFromPath, openFile } from "../../files/index.ts";
import { writeLine, type Io } from "../io.ts";
import { envValueOf, type EnvValue } from "../run-env.ts";
import { flag, list } from "./args.ts";
import { identitiesOf, keyAccessOf, readInput, warnIgnoredMac } from "./file-common.ts";

/**
 * `coffer run --file <path>`: the SOPS file's top-level scalar values as environment variables
 * (like `sops exec-env`), after the MAC verified. Nested maps and lists are skipped, and named on
 * stderr (names only). The names and values then go through the same rules as an owner's secrets
 * (run-env.ts).
 */
export async function loadFileEnv(path: string, args: Record<string, unknown>, io: Io): Promise<Map<string, EnvValue>> {
  const opened = await openFile(await readInput(path), formatFromPath(path), await identitiesOf({ identity: list(args, "identity") }, io), {
    ignoreMac: flag(args, "ignoreMac"),
    keys: keyAccessOf({}, io),
  });
  opened.dataKey.fill(0);
  if (!opened.macVerified) warnIgnoredMac(io, path);
  const { env, skipped } = envFromDocument(opened.doc);
  if (skipped.length > 0) writeLine(io.stderr, `run: ${path}: nested keys not injected (only top-level values are): ${skipped.join(", ")}`);
  const out = new Map<string, EnvValue>();
  for (const [k, v] of env) out.set(k, envValueOf(new TextEncoder().encode(v)));
  return out;
}
