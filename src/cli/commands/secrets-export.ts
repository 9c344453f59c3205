import { chmod, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { CofferError } from "../../core/errors/index.ts";
import type { Secret } from "../../core/secret/index.ts";
import { escapeValue } from "../../core/template/index.ts";
import { checkRecipient, type BundleSeal } from "../../files/index.ts";
import { withBackend } from "../choose-backend.ts";
import { writeLine, type Io } from "../io.ts";
import { printJson, printSecretTable } from "../output.ts";
import { globalOptions } from "./args.ts";
import { bundlePassphrase } from "./transfer-common.ts";
import { defineCommand, arg, flag, json, repeated, text, type Options } from "../command.ts";

export const command = defineCommand({
  args: [arg("owner")],
  options: [
    text("prefix", "--prefix <p>", "only keys starting with p"),
    flag("bundle", "--bundle", "export the values, encrypted with age (armored)"),
    repeated("recipient", "--recipient <age1…>", "with --bundle: an age recipient (repeatable)"),
    flag("passphrase", "--passphrase", "with --bundle: seal with a passphrase ($COFFER_BUNDLE_PASSPHRASE, or a hidden prompt) instead"),
    text("output", "--output <file>", "with --bundle or --reveal: write to a new file with mode 0600 instead of stdout"),
    flag("reveal", "--reveal", "print every current value in plaintext as --format (audited reveals; needs --reason)"),
    text("format", "--format <format>", "with --reveal: dotenv, json or yaml"),
    text(
      "reason",
      "--reason <text>",
      "why the values are exported (recorded in the audit log; default for --bundle: coffer secrets export)",
    ),
    json,
  ],
  example: "coffer secrets export project/acme --bundle --recipient age1… --output acme.age",
});

export const DEFAULT_EXPORT_REASON = "coffer secrets export";
const PLAINTEXT_FORMATS = ["dotenv", "json", "yaml"] as const;

/** The values as one document: `KEY='v'` lines, a JSON object, or a YAML map, each value escaped for it. */
function plaintextDocument(format: (typeof PLAINTEXT_FORMATS)[number], values: ReadonlyMap<string, Secret | null>): Buffer {
  const keys = [...values.keys()].sort();
  const binary = keys.filter((k) => values.get(k) === null);
  if (binary.length > 0)
    throw new CofferError(
      "INVALID_INPUT",
      `format: ${binary.join(", ")} is not UTF-8 text, which ${format} cannot hold; export with --bundle`,
      {
        field: "format",
      },
    );
  const escaped = (k: string, f: "dotenv" | "json" | "yaml"): string => {
    const v = values.get(k);
    if (v === undefined || v === null) return "";
    const bytes = v.reveal();
    try {
      return Buffer.from(escapeValue(bytes, f, k)).toString("utf8");
    } finally {
      bytes.fill(0);
    }
  };
  switch (format) {
    case "dotenv":
      return Buffer.from(keys.map((k) => `${k}=${escaped(k, "dotenv")}\n`).join(""), "utf8");
    case "json":
      return Buffer.from(`{\n${keys.map((k) => `  ${JSON.stringify(k)}: ${escaped(k, "json")}`).join(",\n")}\n}\n`, "utf8");
    case "yaml":
      return Buffer.from(keys.map((k) => `${k}: ${escaped(k, "yaml")}\n`).join(""), "utf8");
  }
}

/** `--reveal --format F --reason R`: every current value in plaintext, each an audited reveal. */
async function exportPlaintext(args: Options<typeof command>, io: Io, owner: string, prefix: string | undefined): Promise<number> {
  const format = args.format;
  if (format === undefined || !(PLAINTEXT_FORMATS as readonly string[]).includes(format))
    throw new CofferError("INVALID_INPUT", `format: --reveal needs --format ${PLAINTEXT_FORMATS.join(", ")}`, { field: "format" });
  const reason = args.reason;
  if (reason === undefined)
    throw new CofferError("INVALID_INPUT", "reason: is required to export values; pass --reason <text>", { field: "reason" });
  const values = await withBackend(io, globalOptions(args), (b) =>
    b.revealAll({ owner, reason, ...(prefix === undefined ? {} : { prefix }) }),
  );
  let doc: Buffer | null = null;
  try {
    doc = plaintextDocument(format as (typeof PLAINTEXT_FORMATS)[number], values);
    const file = args.output;
    if (file === undefined) io.stdout.write(doc);
    else {
      await writePrivate(file, doc);
      writeLine(io.stderr, `exported ${String(values.size)} secret(s) of ${owner} to ${file} in plaintext (${format})`);
    }
    return 0;
  } finally {
    doc?.fill(0);
    for (const v of values.values()) v?.wipe();
  }
}

/** Writes the bundle to a new temporary file (mode 0600) and renames it over `path`. */
async function writePrivate(path: string, text: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o600, flag: "wx" });
    await chmod(tmp, 0o600);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new CofferError("INVALID_INPUT", `${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, { field: "output" });
  }
}

async function sealOf(args: Options<typeof command>, io: Io): Promise<BundleSeal> {
  const recipients = args.recipient.map((r, i) => checkRecipient(r, `recipient.${String(i)}`));
  if (args.passphrase) {
    if (recipients.length > 0) throw new CofferError("USAGE", "give --recipient or --passphrase, not both");
    return { kind: "passphrase", passphrase: await bundlePassphrase(io, true) };
  }
  if (recipients.length === 0) throw new CofferError("USAGE", "--bundle needs --recipient age1… (repeatable) or --passphrase");
  return { kind: "recipients", recipients };
}

/**
 * `coffer secrets export <owner> [--prefix P] [--json]`: metadata only (masked).
 * `--bundle (--recipient age1… | --passphrase) [--output f] [--reason r]`: every value in an
 * armored age bundle (audited reveals), on stdout or in a new 0600 file.
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const owner = args.owner;
  const prefix = args.prefix;
  if (args.reveal) {
    if (args.bundle) throw new CofferError("USAGE", "give --bundle (encrypted) or --reveal (plaintext), not both");
    return exportPlaintext(args, io, owner, prefix);
  }
  if (args.format !== undefined) throw new CofferError("USAGE", "--format needs --reveal");
  if (!args.bundle) {
    if (args.recipient.length > 0 || args.passphrase || args.output !== undefined)
      throw new CofferError("USAGE", "--recipient, --passphrase and --output need --bundle");
    const items = await withBackend(io, globalOptions(args), (b) =>
      b.listAll({ owner, includeDeleted: false, ...(prefix === undefined ? {} : { prefix }) }),
    );
    if (args.json) printJson(io, { owner, count: items.length, secrets: items });
    else {
      printSecretTable(io, items, true);
      writeLine(io.stdout, `${String(items.length)} secret(s) of ${owner}; values not exported (--bundle exports them, encrypted)`);
    }
    return 0;
  }
  const seal = await sealOf(args, io);
  const reason = args.reason ?? DEFAULT_EXPORT_REASON;
  try {
    const out = await withBackend(io, globalOptions(args), (b) =>
      b.exportBundle({ owner, reason, seal, ...(prefix === undefined ? {} : { prefix }) }),
    );
    const file = args.output;
    if (file === undefined) io.stdout.write(out.bundle);
    else await writePrivate(file, out.bundle);
    const how = seal.kind === "passphrase" ? "a passphrase" : `${String(seal.recipients.length)} age recipient(s)`;
    const summary = { owner, count: out.count, sealedTo: how, output: file ?? "stdout" };
    if (args.json && file !== undefined) printJson(io, summary);
    else writeLine(io.stderr, `exported ${String(out.count)} secret(s) of ${owner} to ${file ?? "stdout"}, encrypted to ${how}`);
    return 0;
  } finally {
    if (seal.kind === "passphrase") seal.passphrase.wipe();
  }
}
