import { openFile } from "../../files/index.ts";
import type { Io } from "../io.ts";
import { flag, pos, required } from "./args.ts";
import { formatsOf, identitiesOf, keyAccessOf, readInput, sopsConfigOf, storesOf, warnIgnoredMac, writeResult } from "./file-common.ts";

/** `coffer file decrypt <path>`: the plaintext, to stdout unless --in-place/--output; the MAC must verify. */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const path = required(pos(args, 0), "<path>");
  const format = formatsOf(args, path);
  const config = await sopsConfigOf(args, io);
  const opened = await openFile(await readInput(path), format, await identitiesOf(args, io), {
    ignoreMac: flag(args, "ignoreMac"),
    stores: storesOf(config),
    keys: keyAccessOf(args, io),
  });
  opened.dataKey.fill(0);
  if (!opened.macVerified) warnIgnoredMac(io, path);
  await writeResult(args, io, path, opened.doc.serialize());
  return 0;
}
