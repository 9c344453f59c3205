import { CofferError } from "../core/errors/index.ts";
import type { Backend } from "./backend.ts";
import type { Io } from "./io.ts";
import { localActor, openLocalCore, type GlobalOptions } from "./local-core.ts";

/** The options that choose a backend: `--remote` (before the command or on it) and the data directory. */
export type BackendOptions = GlobalOptions & { readonly remote?: string | undefined };

/** `--remote <url>` (given to the command or before it), else `COFFER_ADDR`; null for local mode. */
export function remoteAddress(io: Io, opts: BackendOptions): string | null {
  const flag = opts.remote;
  const addr = flag ?? (io.env["COFFER_ADDR"] === "" ? undefined : io.env["COFFER_ADDR"]);
  if (addr === undefined) return null;
  if (!/^https?:\/\/[^\s/]+/.test(addr))
    throw new CofferError("INVALID_INPUT", `${flag === undefined ? "COFFER_ADDR" : "--remote"}: must be an http:// or https:// URL`, {
      field: flag === undefined ? "COFFER_ADDR" : "remote",
    });
  return addr;
}

/**
 * For the commands that only make sense on this machine (`keys split|combine`, `migrate`,
 * `serve`, `import --legacy`): refuses when remote settings are present, rather than quietly
 * acting on the local database while the user thinks they are talking to a server.
 * @throws CofferError USAGE.
 */
export function refuseRemote(io: Io, opts: BackendOptions, command: string): void {
  const given =
    opts.remote !== undefined ? "--remote" : io.env["COFFER_ADDR"] !== undefined && io.env["COFFER_ADDR"] !== "" ? "COFFER_ADDR" : null;
  if (given === null) return;
  throw new CofferError(
    "USAGE",
    `coffer ${command} works only on this machine's database and keys, not against a server; ${given === "--remote" ? "leave out --remote" : "unset COFFER_ADDR"} to run it locally`,
  );
}

/** A backend to use and close: the one the arguments and environment choose. */
export async function openBackend(
  io: Io,
  opts: BackendOptions,
): Promise<{ readonly backend: Backend; readonly close: () => Promise<void> }> {
  const addr = remoteAddress(io, opts);
  if (addr === null) {
    // Loaded while the core opens (start-up of `coffer run`); a core that fails to open leaves it unawaited.
    const loading = import("./local-backend.ts");
    loading.catch(() => undefined);
    const core = await openLocalCore(io, opts);
    const { localBackend } = await loading;
    return { backend: localBackend(core, localActor(io)), close: () => core.close() };
  }
  const token = io.env["COFFER_TOKEN"];
  if (token === undefined || token === "")
    throw new CofferError("UNAUTHENTICATED", "remote mode needs a token: set COFFER_TOKEN (create one with: coffer token create)");
  const { remoteBackend } = await import("./remote-backend.ts");
  return { backend: remoteBackend(addr, token, io.env["COFFER_REAUTH"]), close: () => Promise.resolve() };
}

/** Runs `fn` against the backend the arguments and environment choose, and always closes it. */
export async function withBackend<T>(io: Io, opts: BackendOptions, fn: (b: Backend) => Promise<T>): Promise<T> {
  const { backend, close } = await openBackend(io, opts);
  try {
    return await fn(backend);
  } finally {
    await close();
  }
}
