import { loadConfig } from "../../core/config/index.ts";
import type { Io } from "../io.ts";
import { globalOptions, num, str } from "./args.ts";
import { refuseRemote } from "../choose-backend.ts";

/**
 * `coffer serve`: the HTTP API. Boots fail-closed (a bad key or pending migrations: exit
 * non-zero, nothing listens). On a fresh database prints the first admin token once on
 * stdout; logs are JSON lines on stderr. SIGTERM/SIGINT: stop accepting, finish in-flight
 * requests, exit 0. With --tls-cert/--tls-key it speaks HTTPS, and SIGHUP reloads both files
 * (a bad new pair is logged and the old one kept).
 */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  refuseRemote(io, globalOptions(args), "serve");
  const config = loadConfig({
    env: io.env,
    flags: { ...globalOptions(args), tlsCert: str(args, "tlsCert"), tlsKey: str(args, "tlsKey"), trustProxy: str(args, "trustProxy") },
  });
  for (const w of config.warnings) io.stderr.write(`warning: ${w}\n`);
  const { serve } = await import("../../server/index.ts");
  const server = await serve({
    config,
    host: str(args, "host") ?? "127.0.0.1",
    port: num(args, "port") ?? 7300,
    logStream: io.stderr,
    logLevel: io.env["COFFER_LOG_LEVEL"] ?? "info",
    publicUrl: str(args, "publicUrl") ?? null,
  });
  // One write, so whoever reads "listening" also has the token.
  io.stdout.write(
    `coffer listening on ${server.url}\n` +
      (server.bootstrapToken === null
        ? ""
        : `first admin token (shown once; store it now):\n${server.bootstrapToken}\n` +
          `use it: export COFFER_ADDR=${server.url} COFFER_TOKEN=<the token>\n`) +
      (server.resumedRotation === null ? "" : `resuming KEK rotation job ${server.resumedRotation} in the background\n`),
  );
  return new Promise<number>((resolve) => {
    // A second signal while draining changes nothing: the handler stays, so it does not kill the process.
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      server.close().then(
        () => {
          resolve(0);
        },
        () => {
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    // SIGHUP reloads the certificate (after a renewal); without TLS it keeps its default meaning.
    if (config.server.tls !== null)
      process.on("SIGHUP", () => {
        server.reloadTls();
      });
  });
}
