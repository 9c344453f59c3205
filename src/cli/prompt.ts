import { CofferError } from "../core/errors/index.ts";
import { isInteractive, type Io } from "./io.ts";

/** Reads one line from the terminal. With `hidden`, typed characters are not echoed. */
export async function promptLine(io: Io, question: string, hidden: boolean): Promise<string> {
  if (!isInteractive(io)) throw new CofferError("CONFIRMATION_REQUIRED", "cannot prompt: standard input is not a terminal");
  const stdin = io.stdin;
  // Echo goes off before the question appears, so an answer typed (or pasted) the moment the
  // prompt shows is never echoed.
  if (hidden) stdin.setRawMode?.(true);
  io.stderr.write(question);
  try {
    return await new Promise<string>((resolve, reject) => {
      let line = "";
      const onData = (chunk: Buffer | string): void => {
        for (const ch of chunk.toString("utf8")) {
          if (ch === "\r" || ch === "\n") {
            done(null);
            return;
          }
          if (ch === "\u0003") {
            done(new CofferError("USAGE", "cancelled"));
            return;
          }
          if (ch === "\u007f" || ch === "\b") line = line.slice(0, -1);
          else line += ch;
        }
      };
      const done = (err: CofferError | null): void => {
        stdin.off("data", onData);
        stdin.pause();
        // In raw mode the terminal echoed nothing, not even the Enter.
        if (hidden) io.stderr.write("\n");
        if (err === null) resolve(line);
        else reject(err);
      };
      stdin.on("data", onData);
      stdin.resume();
    });
  } finally {
    if (hidden) stdin.setRawMode?.(false);
  }
}

/** Asks yes/no on the terminal; anything but y/yes is no. */
export async function confirm(io: Io, question: string): Promise<boolean> {
  const answer = await promptLine(io, `${question} [y/N] `, false);
  return /^(y|yes)$/i.test(answer.trim());
}
