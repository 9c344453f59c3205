import { CofferError } from "../../core/errors/index.ts";
import type { Secret } from "../../core/secret/index.ts";
import type { ImportMode, ImportSummary } from "../../core/service/index.ts";
import { detectImportFormat, IMPORT_FORMATS, needsPassphrase, type ImportFormat } from "../../files/index.ts";
import { withBackend } from "../choose-backend.ts";
import { writeLine, type Io } from "../io.ts";
import { printJson, printTable } from "../output.ts";
import { globalOptions, required } from "./args.ts";
import { identitiesOf, readInput } from "./file-common.ts";
import { bundlePassphrase } from "./transfer-common.ts";
import { defineCommand, choice, flag, json, repeated, requiredText, text, type Options } from "../command.ts";

export const command = defineCommand({
  options: [
    requiredText("file", "--file <path>", "the file to import"),
    text("owner", "--owner <owner>", "whose secrets: user/<id>, project/<id> or system (default for a bundle: its own owner)"),
    flag("merge", "--merge", "upsert the given keys, keep the others (default)"),
    flag("replace", "--replace", "afterwards the owner holds exactly the given keys: the others are deleted (soft)"),
    flag("allowPlaintext", "--allow-plaintext", "accept a plaintext file (dotenv, JSON, YAML)"),
    choice("format", "--format <format>", "the file's format (default: from its content and extension)", [
      "dotenv",
      "json",
      "yaml",
      "sops",
      "bundle",
    ]),
    repeated(
      "identity",
      "--identity <file>",
      "an age identity file for a SOPS file or bundle (repeatable; also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY)",
    ),
    flag("passphrase", "--passphrase", "the bundle is sealed with a passphrase ($COFFER_BUNDLE_PASSPHRASE, or a hidden prompt)"),
    json,
  ],
  example: "coffer secrets import --file .env --owner project/acme --allow-plaintext",
});

function modeOf(args: Record<string, unknown>): ImportMode {
  if (args.merge && args.replace) throw new CofferError("USAGE", "give --merge or --replace, not both");
  return args.replace ? "replace" : "merge";
}

function formatOf(args: Options<typeof command>, path: string, bytes: Uint8Array): ImportFormat {
  const given = args.format;
  if (given === undefined) return detectImportFormat(path, bytes);
  const f = IMPORT_FORMATS.find((x) => x === given);
  if (f === undefined) throw new CofferError("USAGE", `--format: must be one of ${IMPORT_FORMATS.join(", ")}`);
  return f;
}

function printSummary(io: Io, s: ImportSummary): void {
  const rows = [
    ...s.secrets.map((x) => [x.key, `v${String(x.version)}`, x.existed ? "updated" : "new"]),
    ...s.deleted.map((k) => [k, "", "deleted"]),
  ];
  printTable(io, ["KEY", "VERSION", "CHANGE"], rows);
  const deleted = s.mode === "replace" ? `; deleted ${String(s.deleted.length)} not in the input` : "";
  writeLine(
    io.stdout,
    `imported ${String(s.imported)} secret(s) into ${s.owner} (${s.mode}), ${String(s.updated)} of them new versions of existing secrets${deleted}`,
  );
}

/**
 * `coffer secrets import --file <path> [--owner O] [--merge|--replace] [--allow-plaintext]
 * [--format F] [--identity key.txt] [--passphrase]`: one transaction; prints names, versions
 * and counts, never a value.
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const path = required(args.file, "--file <path>");
  const mode = modeOf(args);
  const content = await readInput(path);
  const format = formatOf(args, path, content);
  // Checked here, so a missing owner reads the same locally and against a server.
  if (args.owner === undefined && format !== "bundle")
    throw new CofferError("USAGE", "missing --owner <owner> (only a bundle names its own owner)");
  const wantsPassphrase = format === "bundle" && (args.passphrase || needsPassphrase(content));
  const identities = format === "sops" || (format === "bundle" && !wantsPassphrase) ? await identitiesOf(args, io) : [];
  const passphrase: Secret | null = wantsPassphrase ? await bundlePassphrase(io, false) : null;
  try {
    const summary = await withBackend(io, globalOptions(args), (b) =>
      b.importSecrets({
        owner: args.owner ?? null,
        mode,
        format,
        content,
        allowPlaintext: args.allowPlaintext,
        identities,
        passphrase,
        path,
      }),
    );
    if (args.json) printJson(io, summary);
    else printSummary(io, summary);
    return 0;
  } finally {
    passphrase?.wipe();
    content.fill(0);
  }
}
