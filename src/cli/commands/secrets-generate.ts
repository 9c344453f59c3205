import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson, printSecret } from "../output.ts";
import { flag, globalOptions, num, parseMetaFlags, list, pos, required, str } from "./args.ts";
import { revealTo } from "./secrets-get.ts";

/** `coffer secrets generate <owner> <key>`: a random value, stored, never printed unless --reveal. */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const owner = required(pos(args, 0), "<owner>");
  const key = required(pos(args, 1), "<key>");
  const opt = <T>(name: string, v: T | undefined): Record<string, T> => (v === undefined ? {} : { [name]: v });
  const meta = list(args, "meta");
  return withBackend(io, globalOptions(args), async (b) => {
    const r = await b.generate({
      owner,
      key,
      ifMissing: flag(args, "ifMissing"),
      ...opt("length", num(args, "length")),
      ...opt("charset", str(args, "charset")),
      ...opt("bytes", num(args, "bytes")),
      ...opt("encoding", str(args, "encoding")),
      ...(meta.length === 0 ? {} : { meta: parseMetaFlags(meta) }),
    });
    if (flag(args, "reveal")) return revealTo(io, b, args, { owner, key });
    if (flag(args, "json")) printJson(io, { ...r.view, created: r.created });
    else {
      printSecret(io, r.view);
      if (!r.created) io.stderr.write(`${r.view.owner} ${r.view.key} exists (v${String(r.view.version)}): kept as it is (--if-missing)\n`);
    }
    return 0;
  });
}
