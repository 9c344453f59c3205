import { chmod, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { CofferError } from "../../core/errors/index.ts";
import { checkRecipient, type BundleSeal } from "../../files/index.ts";
import { withBackend } from "../backend.ts";
import { writeLine, type Io } from "../io.ts";
import { printJson, printSecretTable } from "../output.ts";
import { flag, globalOptions, list, pos, required, str } from "./args.ts";
import { bundlePassphrase } from "./transfer-common.ts";

export const DEFAULT_EXPORT_REASON = "coffer secrets export";

/** Writes the bundle to a new temporary file (mode 0600) and renames it over `path`. */
async function writePrivate(path: string, text: string): Promise<void> {
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

async function sealOf(args: Record<string, unknown>, io: Io): Promise<BundleSeal> {
  const recipients = list(args, "recipient").map((r, i) => checkRecipient(r, `recipient.${String(i)}`));
  if (flag(args, "passphrase")) {
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
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const owner = required(pos(args, 0), "<owner>");
  const prefix = str(args, "prefix");
  if (!flag(args, "bundle")) {
    if (list(args, "recipient").length > 0 || flag(args, "passphrase") || str(args, "output") !== undefined)
      throw new CofferError("USAGE", "--recipient, --passphrase and --output need --bundle");
    const items = await withBackend(io, args, globalOptions(args), (b) =>
      b.listAll({ owner, includeDeleted: false, ...(prefix === undefined ? {} : { prefix }) }),
    );
    if (flag(args, "json")) printJson(io, { owner, count: items.length, secrets: items });
    else {
      printSecretTable(io, items, true);
      writeLine(io.stdout, `${String(items.length)} secret(s) of ${owner}; values not exported (--bundle exports them, encrypted)`);
    }
    return 0;
  }
  const seal = await sealOf(args, io);
  const reason = str(args, "reason") ?? DEFAULT_EXPORT_REASON;
  try {
    const out = await withBackend(io, args, globalOptions(args), (b) =>
      b.exportBundle({ owner, reason, seal, ...(prefix === undefined ? {} : { prefix }) }),
    );
    const file = str(args, "output");
    if (file === undefined) io.stdout.write(out.bundle);
    else await writePrivate(file, out.bundle);
    const how = seal.kind === "passphrase" ? "a passphrase" : `${String(seal.recipients.length)} age recipient(s)`;
    const summary = { owner, count: out.count, sealedTo: how, output: file ?? "stdout" };
    if (flag(args, "json") && file !== undefined) printJson(io, summary);
    else writeLine(io.stderr, `exported ${String(out.count)} secret(s) of ${owner} to ${file ?? "stdout"}, encrypted to ${how}`);
    return 0;
  } finally {
    if (seal.kind === "passphrase") seal.passphrase.wipe();
  }
}
