import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson, printSecret } from "../output.ts";
import { globalOptions, parseMetaFlags } from "./args.ts";
import { revealTo } from "./secrets-get.ts";
import { defineCommand, arg, flag, int, json, repeated, text, type Options } from "../command.ts";

export const command = defineCommand({
  args: [arg("owner"), arg("key")],
  options: [
    int("length", "--length <n>", "characters (default 32)"),
    text("charset", "--charset <set>", "alnum (default), alnum-symbols, hex, base64url, digits or custom:<chars>"),
    int("bytes", "--bytes <n>", "random bytes instead of characters, encoded with --encoding"),
    text("encoding", "--encoding <enc>", "with --bytes: hex, base64 or base64url (default)"),
    flag("ifMissing", "--if-missing", "create only when the secret does not exist (safe with concurrent callers)"),
    repeated("meta", "--meta <k=v>", "a metadata tag (repeatable)"),
    flag("reveal", "--reveal", "print the value (an audited reveal; needs --reason, and --yes when not interactive)"),
    text("reason", "--reason <text>", "with --reveal: why (recorded in the audit log)"),
    flag("yes", "--yes", "with --reveal: do not ask for confirmation"),
    json,
  ],
  example: "coffer secrets generate project/acme RUSTIC_PASSWORD --if-missing --length 40 --charset alnum-symbols",
});

/** `coffer secrets generate <owner> <key>`: a random value, stored, never printed unless --reveal. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const owner = args.owner;
  const key = args.key;
  const opt = <T>(name: string, v: T | undefined): Record<string, T> => (v === undefined ? {} : { [name]: v });
  const meta = args.meta;
  return withBackend(io, globalOptions(args), async (b) => {
    const r = await b.generate({
      owner,
      key,
      ifMissing: args.ifMissing,
      ...opt("length", args.length),
      ...opt("charset", args.charset),
      ...opt("bytes", args.bytes),
      ...opt("encoding", args.encoding),
      ...(meta.length === 0 ? {} : { meta: parseMetaFlags(meta) }),
    });
    if (args.reveal) return revealTo(io, b, args, { owner, key });
    if (args.json) printJson(io, { ...r.view, created: r.created });
    else {
      printSecret(io, r.view);
      if (!r.created) io.stderr.write(`${r.view.owner} ${r.view.key} exists (v${String(r.view.version)}): kept as it is (--if-missing)\n`);
    }
    return 0;
  });
}
