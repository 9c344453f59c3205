import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson, printTable } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, flag, type Options } from "../command.ts";

export const command = defineCommand({
  options: [flag("json", "--json", "machine-readable output (the active kid is `active`)")],
  example: "coffer keys status",
});

/** `coffer keys status`: the active kid and, for every kid, what depends on it. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const status = await withBackend(io, globalOptions(args), (b) => b.keys.status());
  if (args.json) {
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
  const last = status.rotationJobs[0];
  if (last !== undefined) {
    const from = last.fromKid !== null && last.fromKid !== last.toKid ? `${last.fromKid} -> ` : "";
    io.stdout.write(
      `last rotation: ${last.id} ${from}${last.toKid}, ${last.state}, ${String(last.done)}/${String(last.total)} keys rewrapped${last.finishedAt === null ? "" : `, finished ${last.finishedAt}`}\n`,
    );
  }
  for (const k of status.keys) {
    if (k.rotationDue)
      io.stdout.write(
        `rotation due for ${k.kid}: ${k.rotationDueReason ?? ""}; run: coffer keys rotate (mints a new key where the provider can; else --to-kid <a key you created>)\n`,
      );
    if (k.safeToRetireAt !== null)
      io.stdout.write(
        `${k.kid} can be retired from ${k.safeToRetireAt} (backups older than the rotation aged out): coffer keys retire ${k.kid}\n`,
      );
  }
  io.stdout.write(
    `secrets: ${String(status.totals.liveSecrets)} live (${String(status.totals.secrets)} including deleted), ${String(status.totals.versions)} versions; legacy rows: ${String(status.legacyRows)}; rotation jobs: ${String(status.rotationJobs.length)}\n`,
  );
  return 0;
}
