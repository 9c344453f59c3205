import { openFile } from "../../files/index.ts";
import type { Io } from "../io.ts";
import { formatsOf, identitiesOf, keyAccessOf, readInput, sopsConfigOf, storesOf, warnIgnoredMac, writeResult } from "./file-common.ts";
import { defineCommand, arg, flag, type Options } from "../command.ts";
import { fileOptions, outputOptions } from "./file-options.ts";

export const command = defineCommand({
  args: [arg("path")],
  options: [
    ...fileOptions,
    ...outputOptions,
    flag("ignoreMac", "--ignore-mac", "decrypt even if the MAC does not verify (warns on stderr)"),
  ],
  example: "coffer file decrypt secrets.enc.yaml --identity ~/.config/sops/age/keys.txt",
});

/** `coffer file decrypt <path>`: the plaintext, to stdout unless --in-place/--output; the MAC must verify. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const path = args.path;
  const format = formatsOf(args, path);
  const config = await sopsConfigOf(args, io);
  const opened = await openFile(await readInput(path), format, await identitiesOf(args, io), {
    ignoreMac: args.ignoreMac,
    stores: storesOf(config),
    keys: keyAccessOf(args, io),
  });
  opened.dataKey.fill(0);
  if (!opened.macVerified) warnIgnoredMac(io, path);
  await writeResult(args, io, path, opened.doc.serialize());
  return 0;
}
