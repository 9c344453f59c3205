import { keyStatus } from "../../core/service/index.ts";
import type { Io } from "../io.ts";
import { withCore } from "../local-core.ts";
import { printJson, printTable } from "../output.ts";
import { flag, globalOptions } from "./args.ts";

/** `coffer keys status`: the active kid and, for every kid, what depends on it. */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const status = await withCore(io, globalOptions(args), (core) => keyStatus(core));
  if (flag(args, "json")) {
    printJson(io, status);
    return 0;
  }
  io.stdout.write(`active kid: ${status.active}\n`);
  printTable(
    io,
    ["KID", "PROVIDER", "FINGERPRINT", "STATE", "WRAPS", "SCOPE KEYS", "OWNERS", "VERSIONS"],
    status.keys.map((k) => [
      k.kid,
      k.provider,
      k.fingerprint,
      k.retiredAt !== null ? "retired" : k.active ? "active" : k.configured ? "configured" : "NOT CONFIGURED",
      String(k.wrapCount),
      String(k.scopeKeys),
      String(k.owners),
      String(k.secretVersions),
    ]),
  );
  io.stdout.write(
    `secrets: ${String(status.totals.liveSecrets)} live (${String(status.totals.secrets)} including deleted), ${String(status.totals.versions)} versions; legacy rows: ${String(status.legacyRows)}; rotation jobs: ${String(status.rotationJobs.length)}\n`,
  );
  return 0;
}
