import { CofferError } from "../../core/errors/index.ts";
import { updateKeysFile } from "../../files/index.ts";
import { writeLine, type Io } from "../io.ts";
import {
  formatsOf,
  identitiesOf,
  keyAccessOf,
  readInput,
  recipientsFromConfig,
  recipientsFromFlags,
  reportChange,
  sopsConfigOf,
  storesOf,
  writeAtomic,
} from "./file-common.ts";
import { defineCommand, arg, flag, text, type Options } from "../command.ts";
import { fileOptions, recipientOptions } from "./file-options.ts";

export const command = defineCommand({
  args: [arg("path")],
  options: [
    ...fileOptions,
    ...recipientOptions,
    text("output", "--output <path>", "write the result here instead of in place"),
    flag("yes", "-y, --yes", "accepted for sops compatibility (Coffer never prompts)"),
  ],
  example: "coffer file updatekeys secrets.enc.yaml",
});

/**
 * `coffer file updatekeys <path>`: the SAME data key rewrapped for the current recipients
 * (`--age`, else the matching .sops.yaml rule); values, MAC and lastmodified are untouched.
 * Writes the file in place (like sops) unless --output.
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const path = args.path;
  const format = formatsOf(args, path);
  const config = await sopsConfigOf(args, io);
  const recipients = recipientsFromFlags(args) ?? recipientsFromConfig(config, path, args);
  if (recipients === null)
    throw new CofferError("INVALID_INPUT", `recipients: no .sops.yaml creation rule matches ${path} (or pass --age <recipient>)`, {
      field: "recipients",
    });
  const r = await updateKeysFile(await readInput(path), format, await identitiesOf(args, io), {
    recipients,
    stores: storesOf(config),
    keys: keyAccessOf(args, io),
  });
  if (r.bytes === null) {
    writeLine(io.stderr, `updatekeys: ${path}: already up to date, nothing changed`);
    return 0;
  }
  await writeAtomic(args.output ?? path, r.bytes);
  writeLine(
    io.stderr,
    `updatekeys: ${path}: same data key rewrapped for ${String(recipients.groups.flat().length)} recipients; values not re-encrypted`,
  );
  for (const k of r.change.kept) writeLine(io.stderr, `updatekeys: kept (still listed): ${k}`);
  reportChange(io, "updatekeys", r.change);
  return 0;
}
