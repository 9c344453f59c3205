import { createRequire } from "node:module";
import type { Logger } from "../core/service/index.ts";
import type { Io } from "./io.ts";

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity } as const;
type Level = keyof typeof LEVELS;
type Pino = { [K in "debug" | "info" | "warn" | "error"]: (obj: object, msg: string) => void };

/**
 * Structured JSON logs on stderr through pino, with redaction as a second net (the core logs
 * ids only). pino is loaded on the first enabled line, so commands that log nothing at the
 * configured level (the default is `warn`) do not pay for it at start-up.
 */
export function createCliLogger(io: Io, level: Level): Logger {
  let pino: Pino | null = null;
  const get = (): Pino => {
    if (pino !== null) return pino;
    const require = createRequire(import.meta.url);
    const factory = require("pino") as (opts: object, dest: NodeJS.WritableStream) => Pino;
    pino = factory(
      {
        level,
        base: { name: "coffer" },
        redact: {
          paths: [
            "value",
            "*.value",
            "token",
            "*.token",
            "key_bytes",
            "authorization",
            "*.authorization",
            "cookie",
            "password",
            "*.password",
            "secret",
            "*.secret",
          ],
          censor: "********",
        },
      },
      io.stderr,
    );
    return pino;
  };
  const at =
    (l: "debug" | "info" | "warn" | "error") =>
    (obj: Readonly<Record<string, unknown>>, msg: string): void => {
      if (LEVELS[l] >= LEVELS[level]) get()[l](obj, msg);
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
