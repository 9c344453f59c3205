import { readFileSync } from "node:fs";
import { CofferError } from "../../core/errors/index.ts";
import { Secret } from "../../core/secret/index.ts";
import { isInteractive, readAll, type Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson, printSecret } from "../output.ts";
import { promptLine } from "../prompt.ts";
import { flag, list, num, parseMetaFlags, pos, required, str } from "./args.ts";
import { globalOptions } from "./args.ts";

/** Drops one trailing "\n" or "\r\n", as `echo value |` adds it. */
function dropNewline(bytes: Uint8Array): Uint8Array {
  let end = bytes.byteLength;
  if (bytes[end - 1] === 0x0a) end--;
  if (end < bytes.byteLength && bytes[end - 1] === 0x0d) end--;
  return bytes.subarray(0, end);
}

async function readValue(args: Record<string, unknown>, io: Io): Promise<Secret> {
  const inline = pos(args, 2);
  const file = str(args, "file");
  const sources = [inline !== undefined, flag(args, "stdin"), file !== undefined].filter(Boolean).length;
  if (sources > 1) throw new CofferError("USAGE", "give the value one way only: an argument, --stdin or --file");
  if (inline !== undefined) {
    io.stderr.write(
      "warning: a value on the command line is visible in shell history and process lists; prefer the prompt, --stdin or --file\n",
    );
    return Secret.fromString(inline);
  }
  if (flag(args, "stdin")) return Secret.adopt(dropNewline(await readAll(io.stdin)));
  if (file !== undefined) {
    try {
      return Secret.adopt(readFileSync(file));
    } catch (e) {
      throw new CofferError("INVALID_INPUT", `file: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, {
        field: "file",
      });
    }
  }
  if (!isInteractive(io))
    throw new CofferError("USAGE", "no value given: pass --stdin, --file <path>, or run on a terminal to be prompted");
  return Secret.fromString(await promptLine(io, "Value (hidden): ", true));
}

export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const owner = required(pos(args, 0), "<owner>");
  const key = required(pos(args, 1), "<key>");
  const meta = list(args, "meta").length > 0 ? parseMetaFlags(list(args, "meta")) : undefined;
  const expectedVersion = num(args, "expectVersion");
  const value = await readValue(args, io);
  try {
    const view = await withBackend(io, globalOptions(args), (b) =>
      b.set({
        owner,
        key,
        value,
        ...(meta === undefined ? {} : { meta }),
        ...(expectedVersion === undefined ? {} : { expectedVersion }),
      }),
    );
    if (flag(args, "json")) printJson(io, view);
    else printSecret(io, view);
    return 0;
  } finally {
    value.wipe();
  }
}
