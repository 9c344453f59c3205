/**
 * The logging port the core uses: structured objects with ids, counts and codes only. pino
 * satisfies it; tests pass a recorder.
 */
export interface Logger {
  debug(obj: Readonly<Record<string, unknown>>, msg: string): void;
  info(obj: Readonly<Record<string, unknown>>, msg: string): void;
  warn(obj: Readonly<Record<string, unknown>>, msg: string): void;
  error(obj: Readonly<Record<string, unknown>>, msg: string): void;
}

export const silentLogger: Logger = Object.freeze({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});
