import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { loadConfig } from "../../core/config/index.ts";
import { CofferError } from "../../core/errors/index.ts";
import { recoverMasterKey, type RecoveredKey, type ShareInput } from "../../core/service/index.ts";
import { readAll, writeLine, type Io } from "../io.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";
import { refuseRemote } from "../choose-backend.ts";
import { defineCommand, flag, json, repeated, text, type Options } from "../command.ts";

export const command = defineCommand({
  options: [
    repeated("file", "--file <path>", "a file of shares, one per line (repeatable)"),
    flag("stdin", "--stdin", "read shares from standard input, one per line"),
    text("out", "--out <file>", "write the recovered key (base64) to a new file with mode 0600"),
    flag("stdoutKey", "--stdout-key", "print the recovered key (base64) on standard output"),
    json,
  ],
  example: "coffer keys combine --file shares/share-1-of-5.txt --file shares/share-4-of-5.txt --out master-key",
});

/** Each non-blank line of `text` is one share, named by where it came from. */
function sharesIn(text: string, origin: string): ShareInput[] {
  const lines = text.split(/\r?\n/).map((l, i) => ({ text: l.trim(), line: i + 1 }));
  const given = lines.filter((l) => l.text !== "");
  return given.map((l) => ({
    text: l.text,
    source: given.length === 1 && origin !== "stdin" ? origin : `${origin} line ${String(l.line)}`,
  }));
}

async function readShares(args: Options<typeof command>, io: Io): Promise<ShareInput[]> {
  const files = args.file;
  const stdin = args.stdin;
  if (files.length === 0 && !stdin) throw new CofferError("USAGE", "no shares given: pass --file <path> (repeatable) and/or --stdin");
  const shares: ShareInput[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch (e) {
      throw new CofferError("INVALID_INPUT", `file: cannot read ${f} (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, { field: "file" });
    }
    shares.push(...sharesIn(text, f));
  }
  if (stdin) shares.push(...sharesIn(Buffer.from(await readAll(io.stdin)).toString("utf8"), "stdin"));
  return shares;
}

function keyText(r: RecoveredKey): string {
  if (r.keyBase64 === null) throw new CofferError("INTERNAL", "the recovered key was not exported");
  return r.keyBase64.revealText();
}

function configuredNote(r: RecoveredKey): string {
  switch (r.configured.kind) {
    case "match":
      return `matches the configured key '${r.kid}'`;
    case "absent":
      return `the configured keyring has no kid '${r.kid}', so it was checked against the shares' fingerprint only`;
    case "unavailable":
      return `no configured key could be loaded (${r.configured.why}), so it was checked against the shares' fingerprint only`;
  }
}

/** Creates `out` with mode 0600; never overwrites (`wx`). */
function writeKeyFile(out: string, r: RecoveredKey): void {
  try {
    writeFileSync(out, `${keyText(r)}\n`, { mode: 0o600, flag: "wx" });
  } catch (e) {
    throw new CofferError("INVALID_INPUT", `out: cannot create ${out} (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, { field: "out" });
  }
}

type Delivery = { readonly out: string | null; readonly toStdout: boolean; readonly json: boolean };

function report(io: Io, r: RecoveredKey, how: Delivery): void {
  const split = `${String(r.threshold)}-of-${String(r.total)}`;
  const verified = `verified: kid '${r.kid}', fingerprint ${r.fingerprint}, from ${String(r.given)} share(s) of a ${split} split; ${configuredNote(r)}`;
  if (how.toStdout) {
    io.stderr.write(`${verified}\n`);
    writeLine(io.stdout, keyText(r));
  } else if (how.json) {
    const { kid, fingerprint, threshold, total, given } = r;
    printJson(io, { kid, fingerprint, threshold, total, given, configured: r.configured.kind, verified: true, out: how.out });
  } else {
    writeLine(io.stdout, verified);
    if (how.out !== null) writeLine(io.stdout, `wrote the key to ${how.out} (mode 0600)`);
  }
}

/**
 * `coffer keys combine`: rebuilds the master key from K or more shares and verifies it. Prints
 * the key only to a new 0600 file (`--out`) or, when asked explicitly, to stdout (`--stdout-key`).
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  refuseRemote(io, globalOptions(args), "keys combine");
  const outText = args.out;
  const how: Delivery = {
    out: outText === undefined ? null : resolve(outText),
    toStdout: args.stdoutKey,
    json: args.json,
  };
  if (how.out !== null && how.toStdout) throw new CofferError("USAGE", "give --out <file> or --stdout-key, not both");
  if (how.json && how.toStdout) throw new CofferError("USAGE", "--stdout-key prints only the key; it cannot be combined with --json");
  if (how.out !== null && existsSync(how.out))
    throw new CofferError("INVALID_INPUT", `out: ${how.out} already exists; refusing to overwrite it`, { field: "out" });
  const config = loadConfig({ env: io.env, flags: globalOptions(args), role: "cli" });
  for (const w of config.warnings) io.stderr.write(`warning: ${w}\n`);
  const r = await recoverMasterKey(config, { shares: await readShares(args, io), exportKey: how.out !== null || how.toStdout });
  try {
    if (how.out !== null) writeKeyFile(how.out, r);
    report(io, r, how);
    return 0;
  } finally {
    r.keyBase64?.wipe();
  }
}
