import { readFileSync } from "node:fs";
import { CofferError } from "../../core/errors/index.ts";
import { Secret } from "../../core/secret/index.ts";
import { isInteractive, readAll, type Io } from "../io.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson, printSecret } from "../output.ts";
import { promptLine } from "../prompt.ts";
import { parseMetaFlags } from "./args.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, arg, flag, int, json, optionalArg, repeated, text, type Options } from "../command.ts";

export const command = defineCommand({
  args: [arg("owner"), arg("key"), optionalArg("value")],
  options: [
    flag("stdin", "--stdin", "read the value from standard input (one trailing newline is dropped)"),
    text("file", "--file <path>", "read the value from a file, byte for byte"),
    repeated("meta", "--meta <k=v>", "a metadata tag (repeatable)"),
    int("expectVersion", "--expect-version <n>", "write only if the current version is n (0: must not exist)"),
    json,
  ],
  example: 'printf %s "$DB_PASSWORD" | coffer secrets set project/acme DB_PASSWORD --stdin --meta env=prod',
});

/** Drops one trailing "\n" or "\r\n", as `echo value |` adds it. */
function dropNewline(bytes: Uint8Array): Uint8Array {
  let end = bytes.byteLength;
  if (bytes[end - 1] === 0x0a) end--;
  if (end < bytes.byteLength && bytes[end - 1] === 0x0d) end--;
  return bytes.subarray(0, end);
}

async function readValue(args: Options<typeof command>, io: Io): Promise<Secret> {
  const inline = args.value;
  const file = args.file;
  const sources = [inline !== undefined, args.stdin, file !== undefined].filter(Boolean).length;
  if (sources > 1) throw new CofferError("USAGE", "give the value one way only: an argument, --stdin or --file");
  if (inline !== undefined) {
    io.stderr.write(
      "warning: a value on the command line is visible in shell history and process lists; prefer the prompt, --stdin or --file\n",
    );
    return Secret.fromString(inline);
  }
  if (args.stdin) return Secret.adopt(dropNewline(await readAll(io.stdin)));
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

export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const owner = args.owner;
  const key = args.key;
  const meta = args.meta.length > 0 ? parseMetaFlags(args.meta) : undefined;
  const expectedVersion = args.expectVersion;
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
    if (args.json) printJson(io, view);
    else printSecret(io, view);
    return 0;
  } finally {
    value.wipe();
  }
}
