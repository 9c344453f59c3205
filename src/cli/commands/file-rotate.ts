import { rotateFile } from "../../files/index.ts";
import { writeLine, type Io } from "../io.ts";
import {
  formatsOf,
  identitiesOf,
  keyAccessOf,
  readInput,
  recipientsFromFlags,
  reportChange,
  sopsConfigOf,
  storesOf,
  warnIgnoredMac,
  writeResult,
} from "./file-common.ts";
import { defineCommand, arg, flag, type Options } from "../command.ts";
import { fileOptions, outputOptions, recipientOptions } from "./file-options.ts";

export const command = defineCommand({
  args: [arg("path")],
  options: [
    ...fileOptions,
    ...outputOptions,
    ...recipientOptions,
    flag("ignoreMac", "--ignore-mac", "rotate even if the MAC does not verify (warns on stderr)"),
  ],
  example: "coffer file rotate secrets.enc.yaml --in-place",
});

/**
 * `coffer file rotate <path>`: a NEW data key, every value re-encrypted, wrapped to the file's
 * recipients (or `--age` ones). Result to stdout unless --in-place/--output.
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const path = args.path;
  const format = formatsOf(args, path);
  const config = await sopsConfigOf(args, io);
  const ignoreMac = args.ignoreMac;
  const r = await rotateFile(await readInput(path), format, await identitiesOf(args, io), {
    recipients: recipientsFromFlags(args),
    stores: storesOf(config),
    ignoreMac,
    keys: keyAccessOf(args, io),
  });
  if (ignoreMac) warnIgnoredMac(io, path);
  const where = await writeResult(args, io, path, r.bytes);
  writeLine(
    io.stderr,
    `rotate: ${path}: data key rotated, ${String(r.encrypted)} values re-encrypted${where === null ? "" : ` (written to ${where})`}`,
  );
  reportChange(io, "rotate", r.change);
  return 0;
}
