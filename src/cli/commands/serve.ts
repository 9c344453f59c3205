import { loadConfig } from "../../core/config/index.ts";
import type { Io } from "../io.ts";
import { globalOptions } from "./args.ts";
import { refuseRemote } from "../choose-backend.ts";
import { defineCommand, intOr, text, textOr, type Options } from "../command.ts";

export const command = defineCommand({
  options: [
    intOr("port", "--port <port>", "TCP port (0: any free port)", 7300),
    textOr("host", "--host <host>", "address to listen on", "127.0.0.1"),
    text("publicUrl", "--public-url <url>", "the base URL clients use, for one-time links (default: from the request)"),
    text("tlsCert", "--tls-cert <file>", "serve HTTPS with this PEM certificate chain; reloaded on SIGHUP (default: $COFFER_TLS_CERT)"),
    text("tlsKey", "--tls-key <file>", "the certificate's PEM private key, not readable by others (default: $COFFER_TLS_KEY)"),
    text(
      "trustProxy",
      "--trust-proxy <list>",
      "comma-separated proxy addresses/CIDRs whose X-Forwarded-For/-Proto are believed (default: $COFFER_TRUST_PROXY; none)",
    ),
  ],
  example: "coffer serve --host 0.0.0.0 --port 7300",
});

/**
 * `coffer serve`: the HTTP API. Boots fail-closed (a bad key or pending migrations: exit
 * non-zero, nothing listens). On a fresh database prints the first admin token once on
 * stdout; logs are JSON lines on stderr. SIGTERM/SIGINT: stop accepting, finish in-flight
 * requests, exit 0. With --tls-cert/--tls-key it speaks HTTPS, and SIGHUP reloads both files
 * (a bad new pair is logged and the old one kept).
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  refuseRemote(io, globalOptions(args), "serve");
  const config = loadConfig({
    env: io.env,
    flags: { ...globalOptions(args), tlsCert: args.tlsCert, tlsKey: args.tlsKey, trustProxy: args.trustProxy },
  });
  for (const w of config.warnings) io.stderr.write(`warning: ${w}\n`);
  const { serve } = await import("../../server/index.ts");
  const server = await serve({
    config,
    host: args.host,
    port: args.port,
    logStream: io.stderr,
    logLevel: io.env["COFFER_LOG_LEVEL"] ?? "info",
    publicUrl: args.publicUrl ?? null,
  });
  // The handlers go in before the "listening" line: a pipe write is synchronous, so whoever
  // reads that line may signal at once, and a SIGTERM before the handler would kill the process.
  const stopped = new Promise<number>((resolve) => {
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
  // One write, so whoever reads "listening" also has the token.
  io.stdout.write(
    `coffer listening on ${server.url}\n` +
      (server.bootstrapToken === null
        ? ""
        : `first admin token (shown once; store it now):\n${server.bootstrapToken}\n` +
          `use it: export COFFER_ADDR=${server.url} COFFER_TOKEN=<the token>\n`) +
      (server.resumedRotation === null ? "" : `resuming KEK rotation job ${server.resumedRotation} in the background\n`),
  );
  return stopped;
}
