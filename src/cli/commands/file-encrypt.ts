import { CofferError } from "../../core/errors/index.ts";
import { encryptFile, matchRule, RULE_KINDS, type EncryptionRule } from "../../files/index.ts";
import type { Io } from "../io.ts";
import { str } from "./args.ts";
import { formatsOf, readInput, recipientsFromConfig, recipientsFromFlags, sopsConfigOf, storesOf, writeResult } from "./file-common.ts";
import { defineCommand, arg, flag, text, type Options } from "../command.ts";
import { fileOptions, outputOptions, recipientOptions } from "./file-options.ts";

export const command = defineCommand({
  args: [arg("path")],
  options: [
    ...fileOptions,
    ...outputOptions,
    ...recipientOptions,
    text("encryptedRegex", "--encrypted-regex <re>", "encrypt only values under keys matching re"),
    text("unencryptedRegex", "--unencrypted-regex <re>", "leave values under keys matching re in plaintext"),
    text("encryptedSuffix", "--encrypted-suffix <s>", "encrypt only values under keys ending with s"),
    text("unencryptedSuffix", "--unencrypted-suffix <s>", "leave values under keys ending with s in plaintext (default: _unencrypted)"),
    flag("macOnlyEncrypted", "--mac-only-encrypted", "the MAC covers encrypted values only"),
  ],
  example: "coffer file encrypt --age age1… secrets.yaml --in-place",
});

const FLAG_OF: Record<(typeof RULE_KINDS)[number], string> = {
  unencrypted_suffix: "unencryptedSuffix",
  encrypted_suffix: "encryptedSuffix",
  unencrypted_regex: "unencryptedRegex",
  encrypted_regex: "encryptedRegex",
};

function ruleFromFlags(args: Record<string, unknown>): EncryptionRule | null {
  const given = RULE_KINDS.flatMap((kind) => {
    const value = str(args, FLAG_OF[kind]);
    return value === undefined ? [] : [{ kind, value }];
  });
  if (given.length > 1)
    throw new CofferError("USAGE", "give at most one of --unencrypted-suffix, --encrypted-suffix, --unencrypted-regex, --encrypted-regex");
  return given[0] ?? null;
}

/** `coffer file encrypt <path>`: a plaintext file → SOPS format, to stdout unless --in-place/--output. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const path = args.path;
  const format = formatsOf(args, path);
  const config = await sopsConfigOf(args, io);
  const recipients = recipientsFromFlags(args) ?? recipientsFromConfig(config, path, args);
  if (recipients === null)
    throw new CofferError(
      "INVALID_INPUT",
      `recipients: none for ${path}: pass --age <recipient> or add a matching .sops.yaml creation rule`,
      {
        field: "recipients",
      },
    );
  const rule = config === null ? null : matchRule(config, path);
  const result = await encryptFile(await readInput(path), format, {
    ...recipients,
    rule: ruleFromFlags(args) ?? rule?.rule ?? null,
    macOnlyEncrypted: args.macOnlyEncrypted || (rule?.macOnlyEncrypted ?? false),
    stores: storesOf(config),
  });
  await writeResult(args, io, path, result.bytes);
  return 0;
}
