import { CofferError } from "../../core/errors/index.ts";
import { COMMENT_RULES, encryptFile, matchRule, RULE_KINDS, type EncryptionRule } from "../../files/index.ts";
import type { Io } from "../io.ts";
import { str } from "./args.ts";
import {
  formatsOf,
  keyAccessOf,
  readInput,
  recipientsFromConfig,
  recipientsFromFlags,
  sopsConfigOf,
  storesOf,
  writeResult,
} from "./file-common.ts";
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
    text("encryptedCommentRegex", "--encrypted-comment-regex <re>", "encrypt only comments matching re (YAML)"),
    text("unencryptedCommentRegex", "--unencrypted-comment-regex <re>", "leave comments matching re in plaintext (YAML)"),
  ],
  example: "coffer file encrypt --age age1… secrets.yaml --in-place",
});

const FLAG_OF: Record<(typeof RULE_KINDS)[number], string> = {
  unencrypted_suffix: "unencryptedSuffix",
  encrypted_suffix: "encryptedSuffix",
  unencrypted_regex: "unencryptedRegex",
  encrypted_regex: "encryptedRegex",
};

const COMMENT_FLAG_OF: Record<(typeof COMMENT_RULES)[number], string> = {
  unencrypted_comment_regex: "unencryptedCommentRegex",
  encrypted_comment_regex: "encryptedCommentRegex",
};
type CommentRule = { readonly kind: (typeof COMMENT_RULES)[number]; readonly value: string };

/** The rule flags; like sops, at most one of the six (a key rule or a comment rule). */
function rulesFromFlags(args: Record<string, unknown>): { rule: EncryptionRule | null; commentRule: CommentRule | null } {
  const given = RULE_KINDS.flatMap((kind) => {
    const value = str(args, FLAG_OF[kind]);
    return value === undefined ? [] : [{ kind, value }];
  });
  const comments = COMMENT_RULES.flatMap((kind) => {
    const value = str(args, COMMENT_FLAG_OF[kind]);
    return value === undefined ? [] : [{ kind, value }];
  });
  if (given.length + comments.length > 1)
    throw new CofferError(
      "USAGE",
      "give at most one of --unencrypted-suffix, --encrypted-suffix, --unencrypted-regex, --encrypted-regex, --unencrypted-comment-regex, --encrypted-comment-regex",
    );
  return { rule: given[0] ?? null, commentRule: comments[0] ?? null };
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
  const flags = rulesFromFlags(args);
  const fromFlags = flags.rule !== null || flags.commentRule !== null;
  const commentRule = fromFlags ? flags.commentRule : (rule?.commentRule ?? null);
  const result = await encryptFile(await readInput(path), format, {
    ...recipients,
    keys: keyAccessOf(args, io),
    rule: fromFlags ? flags.rule : (rule?.rule ?? null),
    ...(commentRule === null ? {} : { commentRule }),
    macOnlyEncrypted: args.macOnlyEncrypted || (rule?.macOnlyEncrypted ?? false),
    stores: storesOf(config),
  });
  await writeResult(args, io, path, result.bytes);
  return 0;
}
