import type { FastifyBaseLogger } from "fastify";
import type { Bindings, ChildLoggerOptions, Logger as PinoLogger } from "pino";

/**
 * The one log line per request. Its fields are fixed and none can hold a value or a token: the
 * request id (ours, or the client's `X-Request-Id` when it is a plain id), the method, the route
 * template (never the URL: one-time link tokens travel in the path), the status, the time and
 * the token's id.
 */
export type RequestLine = {
  readonly reqId: string;
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly ms: number;
  readonly actor: string | null;
};

/**
 * Writes {@link RequestLine}s through a child of the server's logger without its redaction.
 * The redaction paths (`value`, `*.token`, …) walk every object logged and cost more than the
 * rest of the line; this line has none of those fields by construction (its type allows nothing
 * else). Same destination, level and base fields as every other line, and the same JSON as when
 * it went through the request's own child logger (`reqId` first, `msg: "request"`).
 */
export function requestLogger(logger: PinoLogger | false): ((line: RequestLine) => void) | null {
  if (logger === false) return null;
  const plain = logger.child({}, { redact: [] });
  return (line) => {
    plain.info(line, "request");
  };
}

/**
 * A request's child logger (`req.log`, bound to its `reqId`), made the first time something logs
 * through it. Fastify makes one per request, and pino builds it at once (bindings serialised
 * through the redaction); most requests never use it, their one line going through
 * {@link requestLogger}.
 */
class LazyChildLogger implements FastifyBaseLogger {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #made: FastifyBaseLogger | null = null;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  #real(): FastifyBaseLogger {
    this.#made ??= this.#parent.child(this.#bindings, this.#options);
    return this.#made;
  }

  #log(level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent", args: unknown[]): void {
    const real = this.#real();
    Reflect.apply(real[level], real, args);
  }

  get level(): string {
    return this.#made?.level ?? this.#parent.level;
  }
  set level(level: string) {
    this.#real().level = level;
  }
  fatal(...args: unknown[]): void {
    this.#log("fatal", args);
  }
  error(...args: unknown[]): void {
    this.#log("error", args);
  }
  warn(...args: unknown[]): void {
    this.#log("warn", args);
  }
  info(...args: unknown[]): void {
    this.#log("info", args);
  }
  debug(...args: unknown[]): void {
    this.#log("debug", args);
  }
  trace(...args: unknown[]): void {
    this.#log("trace", args);
  }
  silent(...args: unknown[]): void {
    this.#log("silent", args);
  }
  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options);
  }
}

/**
 * Fastify's `childLoggerFactory`: a {@link LazyChildLogger}, or pino's own child at once when the
 * route sets its own level or serializers (none does today).
 */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return options.level === undefined && options.serializers === undefined
    ? new LazyChildLogger(logger, bindings, options)
    : logger.child(bindings, options);
}
