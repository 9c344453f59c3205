import { userInfo } from "node:os";
import { loadConfig, type Config } from "../core/config/index.ts";
import { createCore, type Actor, type Core } from "../core/service/index.ts";
import type { Io } from "./io.ts";
import { createCliLogger } from "./log.ts";

export type GlobalOptions = { readonly home?: string | undefined; readonly db?: string | undefined };

/** The configuration of local mode. @throws CofferError CONFIG_INVALID. */
export function localConfig(io: Io, opts: GlobalOptions): Config {
  return loadConfig({ env: io.env, flags: { home: opts.home, db: opts.db }, role: "cli" });
}

/** Opens the store and keys in this process (local mode). Unknown COFFER_* names warn. */
export async function openLocalCore(io: Io, opts: GlobalOptions): Promise<Core> {
  const config = localConfig(io, opts);
  for (const w of config.warnings) io.stderr.write(`warning: ${w}\n`);
  return createCore(config, { logger: createCliLogger(io, config.logLevel), warn: (w) => io.stderr.write(`warning: ${w}\n`) });
}

/** Local mode acts as the operating-system user running the command. */
export function localActor(io: Io): Actor {
  let user = io.env["USER"] ?? "unknown";
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep $USER
  }
  return { kind: "local", user };
}

/** Runs `fn` with a local core and always closes it. */
export async function withCore<T>(io: Io, opts: GlobalOptions, fn: (core: Core, actor: Actor) => Promise<T>): Promise<T> {
  const core = await openLocalCore(io, opts);
  try {
    return await fn(core, localActor(io));
  } finally {
    await core.close();
  }
}
