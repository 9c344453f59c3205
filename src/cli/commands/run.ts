import { spawn } from "node:child_process";
import { basename } from "node:path";
import { constants } from "node:os";
import { CofferError } from "../../core/errors/index.ts";
import { LOCAL_CONTEXT } from "../../core/service/index.ts";
import type { Io } from "../io.ts";
import { localActor, openLocalCore } from "../local-core.ts";
import { remoteAddress, withBackend } from "../backend.ts";
import { flag, pos, str } from "./args.ts";
import { globalOptions } from "./args.ts";

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;

/** Builds the child's environment: the parent's, plus the owner's secrets. */
function childEnv(io: Io, secrets: ReadonlyMap<string, { revealText(): string }>, override: boolean): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(io.env)) if (v !== undefined) env[k] = v;
  for (const [name, value] of secrets) {
    if (!override && name in env) continue;
    env[name] = value.revealText();
  }
  return env;
}

/**
 * Runs a command with the owner's secrets as environment variables, forwards signals to it,
 * and exits with its status (128 + signal number when it was killed by a signal).
 */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const command = args["_"];
  const argv = Array.isArray(command) && Array.isArray(command[0]) ? (command[0] as unknown[]).map(String) : [];
  const owner = str(args, "owner") ?? pos(args, 0);
  const sopsFile = str(args, "file");
  const file = argv[0];
  if ((owner === undefined && sopsFile === undefined) || file === undefined)
    throw new CofferError("USAGE", "usage: coffer run --owner <owner> | --file <sops file> -- <command> [args...]");
  const override = args["override"] !== false && !flag(args, "noOverride");
  // --file alone never opens the store: the values come from the SOPS file only.
  const fromFile = sopsFile === undefined ? null : await (await import("./file-env.ts")).loadFileEnv(sopsFile, args, io);
  if (owner === undefined) return spawnChild(file, argv.slice(1), childEnv(io, fromFile ?? new Map(), override));
  const prefix = str(args, "prefix");
  const reveal = { owner, reason: `coffer run ${basename(file)}`, ...(prefix === undefined ? {} : { prefix }) };
  if (remoteAddress(io, args) !== null) {
    const secrets = await withBackend(io, args, globalOptions(args), (b) => b.revealAll(reveal));
    const remoteEnv = childEnv(io, new Map([...secrets, ...(fromFile ?? [])]), override);
    for (const s of secrets.values()) s.wipe();
    return spawnChild(file, argv.slice(1), remoteEnv);
  }
  const core = await openLocalCore(io, globalOptions(args));
  let env: Record<string, string>;
  try {
    const secrets = await core.secrets.revealAll(localActor(io), LOCAL_CONTEXT, reveal);
    env = childEnv(io, new Map([...secrets, ...(fromFile ?? [])]), override);
    for (const s of secrets.values()) s.wipe();
  } catch (e) {
    await core.close();
    throw e;
  }
  // The child starts first; closing the database (a WAL checkpoint) overlaps with its start-up.
  const exited = spawnChild(file, argv.slice(1), env);
  await core.close();
  return exited;
}

function spawnChild(file: string, args: readonly string[], env: Record<string, string>): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const child = spawn(file, args, { stdio: "inherit", env });
    const handlers = FORWARDED.map((sig) => {
      const h = (): void => {
        child.kill(sig);
      };
      process.on(sig, h);
      return [sig, h] as const;
    });
    const cleanup = (): void => {
      for (const [sig, h] of handlers) process.off(sig, h);
    };
    child.on("error", (e: NodeJS.ErrnoException) => {
      cleanup();
      if (e.code === "ENOENT") reject(new CofferError("USAGE", `command not found: ${file}`));
      else reject(new CofferError("USAGE", `cannot start ${file} (${e.code ?? "error"})`));
    });
    child.on("exit", (code, signal) => {
      cleanup();
      resolve(code ?? (signal === null ? 1 : 128 + constants.signals[signal]));
    });
  });
}
