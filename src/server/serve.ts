import pino, { type Logger as PinoLogger } from "pino";
import type { Server as TlsServer } from "node:tls";
import type { Config } from "../core/config/index.ts";
import { CofferError } from "../core/errors/index.ts";
import { createCore, LOCAL_CONTEXT, type Actor, type Core, type ReauthHook } from "../core/service/index.ts";
import { buildServer, redactUrl } from "./app.ts";
import { Metrics } from "./metrics.ts";
import { startRotation } from "./routes-admin.ts";
import { loadTls } from "./tls.ts";

export type ServeOptions = {
  readonly config: Config;
  readonly host: string;
  readonly port: number;
  /** Where request and server logs go (JSON lines), e.g. stderr. */
  readonly logStream: NodeJS.WritableStream;
  readonly logLevel: string;
  readonly reauth?: ReauthHook;
  readonly publicUrl?: string | null;
};

export type RunningServer = {
  readonly url: string;
  /** The first admin token, when this start created it (a fresh database); shown once. */
  readonly bootstrapToken: string | null;
  /** Resumed an interrupted KEK rotation job in the background. */
  readonly resumedRotation: string | null;
  /**
   * Reads the TLS certificate and key files again and serves them to new connections (SIGHUP).
   * On failure the old pair stays in service and the error is logged; returns false. False
   * too when the server speaks plain HTTP.
   */
  reloadTls(): boolean;
  close(): Promise<void>;
};

const SERVER_ACTOR: Actor = Object.freeze({ kind: "local", user: "coffer-serve" });

/** Log lines go to stderr in writes of this many bytes, and at most {@link LOG_FLUSH_MS} after they were logged. */
export const LOG_BATCH_BYTES = 64 * 1024;
export const LOG_FLUSH_MS = 1000;

/**
 * fd 2 through pino's buffered writer: one write per 64 KiB, not per line, and whatever is
 * pending at least once a second (flushed too on shutdown and at exit): request logs stay on
 * without a write per request. Each write is handed to libuv's thread pool, and waking that
 * thread is what a write costs the server: under reveal load at 50 connections the writes took
 * 7.8% of the server's samples with 4 KiB batches, 3.8% with 16 KiB, 0.9% with 64 KiB
 * (`bench/http-profile.ts --op reveal`). It is fed Buffers: in text mode sonic-boom measures
 * its whole pending string on every line (`Buffer.byteLength` of a growing concatenation,
 * flattened each time), which cost more than formatting the line.
 */
function bufferedStderr(): pino.DestinationStream & { flush(cb?: (err?: Error) => void): void } {
  const sonic = pino.destination({
    dest: 2,
    sync: false,
    minLength: LOG_BATCH_BYTES,
    maxWrite: 4 * LOG_BATCH_BYTES,
    contentMode: "buffer",
  });
  let pending = false;
  setInterval(() => {
    if (!pending) return;
    pending = false;
    sonic.flush();
  }, LOG_FLUSH_MS).unref();
  return {
    // Buffer mode takes Buffers; sonic-boom's types only name strings.
    write: (line: string) => {
      pending = true;
      return sonic.write(Buffer.from(line, "utf8") as unknown as string);
    },
    flush: (cb) => {
      sonic.flush(cb);
    },
  };
}

export function serverLogger(stream: NodeJS.WritableStream, level: string): PinoLogger {
  const dest = stream === process.stderr ? bufferedStderr() : stream;
  return pino(
    {
      level,
      base: { name: "coffer-server" },
      redact: {
        paths: [
          "req.headers.authorization",
          'req.headers["x-coffer-reauth"]',
          "req.headers.cookie",
          "value",
          "*.value",
          "token",
          "*.token",
          "valueBase64",
          "*.valueBase64",
        ],
        censor: "********",
      },
      serializers: {
        req: (r: { method?: string; url?: string; id?: string; ip?: string }) => ({
          method: r.method,
          url: redactUrl(r.url ?? ""),
          requestId: r.id,
          remoteAddress: r.ip,
        }),
        res: (r: { statusCode?: number }) => ({ statusCode: r.statusCode }),
      },
    },
    dest,
  );
}

/**
 * `coffer serve`: boots fail-closed (the keyring must load and pass its wrap/unwrap self-test,
 * the schema must be current — otherwise this throws and nothing listens), listens, creates
 * and returns the first admin token on a fresh database, and finishes an interrupted KEK
 * rotation in the background. `close()` stops accepting, lets in-flight requests finish, waits
 * for the current rotation batch, and closes the store.
 */
export async function serve(opts: ServeOptions): Promise<RunningServer> {
  checkPort(opts.port);
  const logger = serverLogger(opts.logStream, opts.logLevel);
  const tlsFiles = opts.config.server.tls;
  // Before anything else: a bad certificate path fails the boot before the keyring is touched.
  const tls = tlsFiles === null ? null : loadTls(tlsFiles);
  const core: Core = await createCore(opts.config, { logger, ...(opts.reauth === undefined ? {} : { reauth: opts.reauth }) });
  const metrics = new Metrics();
  const background = new Set<Promise<unknown>>();
  let app;
  try {
    app = buildServer({
      core,
      logger,
      metrics,
      background,
      publicUrl: opts.publicUrl ?? null,
      https: tls,
      trustProxy: opts.config.server.trustProxy,
    });
    await app.listen({ host: opts.host, port: opts.port });
  } catch (e) {
    await app?.close();
    await core.close();
    throw listenError(e, opts.host, opts.port);
  }
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : opts.port;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  const created = await core.tokens.bootstrap(SERVER_ACTOR, LOCAL_CONTEXT);
  let bootstrapToken: string | null = null;
  if (created !== null) {
    bootstrapToken = new TextDecoder().decode(created.token.reveal());
    created.token.wipe();
  }
  const status = await core.admin.status.get(SERVER_ACTOR, LOCAL_CONTEXT);
  const interrupted = status.rotationJobs.find((j) => j.state === "running") ?? null;
  if (interrupted !== null) {
    // Only under the rotation lease: a running job may belong to a live server rotating now.
    const resume = core.admin.autoRotation
      .resumeInterrupted(SERVER_ACTOR, LOCAL_CONTEXT, () => {
        logger.info({ job: interrupted.id, toKid: interrupted.toKid }, "resuming an interrupted KEK rotation");
        const job = startRotation(core, metrics, background, SERVER_ACTOR, LOCAL_CONTEXT, { batchSize: 500, resume: true });
        job.started.catch((e: unknown) => {
          logger.error({ code: (e as { code?: string }).code ?? "INTERNAL" }, "resumed KEK rotation failed");
        });
        return job.finished;
      })
      .then((outcome) => {
        if (outcome === "other_server")
          logger.info({ job: interrupted.id }, "another server holds the rotation lease and finishes the rotation");
      })
      .catch((e: unknown) => {
        logger.error({ code: (e as { code?: string }).code ?? "INTERNAL" }, "resumed KEK rotation failed");
      })
      .finally(() => background.delete(resume));
    background.add(resume);
  }
  const timer = opts.config.autoRotate.enabled ? autoRotate(core, metrics, background, logger, opts.config.autoRotate.checkMs) : null;
  let closing: Promise<void> | null = null;
  return {
    url: `${tls === null ? "http" : "https"}://${host}:${String(port)}`,
    bootstrapToken,
    resumedRotation: interrupted?.id ?? null,
    reloadTls: () => {
      if (tlsFiles === null) return false;
      try {
        const next = loadTls(tlsFiles);
        (app.server as unknown as TlsServer).setSecureContext({ cert: next.cert, key: next.key });
        logger.info({ fingerprint256: next.fingerprint256, notAfter: next.notAfter }, "TLS certificate reloaded");
        logger.flush(); // a rare operator event: seen now, not when the buffer next fills
        return true;
      } catch (e) {
        const err = e as { code?: string; message?: string };
        // The message names the file and the rule (CofferError), never key material.
        logger.error(
          { code: err.code ?? "INTERNAL", detail: err instanceof CofferError ? err.message : "cannot load the new certificate" },
          "TLS reload failed; still serving the previous certificate",
        );
        logger.flush();
        return false;
      }
    },
    close: () =>
      (closing ??= (async () => {
        if (timer !== null) clearInterval(timer);
        await app.close();
        await Promise.allSettled([...background]);
        await core.close();
        logger.flush();
      })()),
  };
}

/** 0 (any free port) or a TCP port; anything else is refused before the database is opened. */
function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CofferError("INVALID_INPUT", "port: must be a whole number from 1 to 65535 (or 0 for any free port)", { field: "port" });
}

/**
 * Why nothing listens, in words that say what to do: the socket errors a user can cause
 * (a busy port, a privileged port, an address this machine does not have) become
 * `LISTEN_FAILED`; anything else stays as it was thrown.
 */
function listenError(e: unknown, host: string, port: number): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  const where = `port ${String(port)} on ${host}`;
  const fail = (message: string): CofferError =>
    new CofferError("LISTEN_FAILED", message, { host, port, reason: String(code) }, { cause: e });
  switch (code) {
    case "EADDRINUSE":
      return fail(`${where} is in use: stop the other process or pass --port (0: any free port)`);
    case "EACCES":
      return fail(`not allowed to listen on ${where}: ports below 1024 need privileges; pass --port 1024 or higher`);
    case "EADDRNOTAVAIL":
      return fail(`cannot listen on ${host}: no such address on this machine; pass --host (e.g. 127.0.0.1 or 0.0.0.0)`);
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return fail(`cannot listen on ${host}: the host name does not resolve; pass --host with an address (e.g. 127.0.0.1)`);
    default:
      return e;
  }
}

/**
 * `COFFER_AUTO_ROTATE=1`: checks the rotation policy now and every `checkMs`; when the active
 * kid is due and the provider can mint, the one server holding the database lease rotates
 * (see `AutoRotation`). Outcomes are counted in `coffer_kek_auto_rotation_checks_total`.
 */
function autoRotate(core: Core, metrics: Metrics, background: Set<Promise<unknown>>, logger: PinoLogger, checkMs: number): NodeJS.Timeout {
  const auto = core.admin.autoRotation;
  let checking = false;
  let saidCannotMint = false;
  const tick = (): void => {
    if (checking) return;
    checking = true;
    const run = auto
      .check(SERVER_ACTOR, LOCAL_CONTEXT, (o) => {
        const job = startRotation(core, metrics, background, SERVER_ACTOR, LOCAL_CONTEXT, o);
        job.started.catch(() => undefined);
        return job.finished;
      })
      .then((outcome) => {
        metrics.autoRotationChecks.inc({ outcome });
        if (outcome === "rotated") logger.info({ kid: core.health.activeKid() }, "rotated the master key automatically (due)");
        if (outcome === "cannot_mint" && !saidCannotMint) {
          saidCannotMint = true;
          logger.warn(
            { kid: core.health.activeKid() },
            "the master key is due for rotation, but this key provider cannot mint one; rotate by hand",
          );
        }
      })
      .catch(() => {
        metrics.autoRotationChecks.inc({ outcome: "failed" });
      })
      .finally(() => {
        checking = false;
        background.delete(run);
      });
    background.add(run);
  };
  tick();
  const timer = setInterval(tick, checkMs);
  timer.unref();
  return timer;
}
