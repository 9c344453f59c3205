import { spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { CofferError } from "../../core/errors/index.ts";
import { encryptFile, openFile, parseDocument, resealFile } from "../../files/index.ts";
import { isInteractive, writeLine, type Io } from "../io.ts";
import { escapeControls } from "../output.ts";
import { promptLine } from "../prompt.ts";
import {
  formatsOf,
  identitiesOf,
  keyAccessOf,
  readText,
  recipientsFromConfig,
  recipientsFromFlags,
  sopsConfigOf,
  storesOf,
  warnIgnoredMac,
  writeAtomic,
} from "./file-common.ts";
import { defineCommand, arg, flag, type Options } from "../command.ts";
import { fileOptions, recipientOptions } from "./file-options.ts";

export const command = defineCommand({
  args: [arg("path")],
  options: [
    ...fileOptions,
    ...recipientOptions,
    flag("ignoreMac", "--ignore-mac", "open even if the MAC does not verify (warns on stderr)"),
  ],
  example: "EDITOR=vi coffer file edit secrets.enc.yaml",
});

/** Runs `$VISUAL`/`$EDITOR` (split on spaces, like sops) on `file`; resolves with its exit status. */
function runEditor(io: Io, file: string): Promise<number> {
  const words = (io.env["VISUAL"] ?? io.env["EDITOR"] ?? "vi").split(/\s+/).filter((w) => w !== "");
  const [cmd = "vi", ...rest] = words;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...rest, file], { stdio: "inherit", env: { ...io.env } });
    child.on("error", () => {
      reject(new CofferError("USAGE", `editor not found: ${cmd} (set $EDITOR or $VISUAL)`));
    });
    child.on("exit", (code) => {
      resolve(code ?? 1);
    });
  });
}

/**
 * The plaintext in a 0600 file inside a fresh 0700 directory, edited and read back; `accept`
 * parses, re-encrypts and writes it. The directory is deleted once `accept` succeeds (or the
 * editor fails). When `accept` refuses the text (a syntax error), like sops on a terminal it
 * asks whether to re-open the editor on the edited text; otherwise (no terminal, or the answer
 * is no) the edited text stays in that file, private to the user, and the error says where:
 * no edit is lost.
 */
async function editInTemp<T>(io: Io, name: string, plaintext: Uint8Array, accept: (edited: Uint8Array) => T | Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "coffer-edit-"));
  const file = join(dir, name);
  const state = { keep: false };
  try {
    await writeFile(file, plaintext, { mode: 0o600, flag: "wx" });
    for (;;) {
      const status = await runEditor(io, file);
      if (status !== 0) throw new CofferError("USAGE", `the editor exited with status ${String(status)}; nothing was written`);
      const edited = await readFile(file);
      try {
        return await accept(edited);
      } catch (e) {
        if (e instanceof CofferError && e.code === "INVALID_INPUT" && (await reopen(io, e))) continue;
        state.keep = true;
        // An editor that saves by rename may have left the file with the umask's mode.
        await chmod(file, 0o600);
        const kept = `nothing was written, and your edited text is kept in ${file} (readable only by you): fix it there and copy it back with coffer file edit, or delete it`;
        if (e instanceof CofferError) throw new CofferError(e.code, `${e.message}; ${kept}`, e.details, { cause: e });
        writeLine(io.stderr, `edit: ${kept}`);
        throw e;
      }
    }
  } finally {
    if (!state.keep) await rm(dir, { recursive: true, force: true });
  }
}

/** On a terminal: says what is wrong and asks whether to edit again (default yes). */
async function reopen(io: Io, e: CofferError): Promise<boolean> {
  if (!isInteractive(io)) return false;
  writeLine(io.stderr, `error[${e.code}]: ${escapeControls(e.message)}`);
  try {
    const answer = await promptLine(io, "Re-open the editor to fix it? [Y/n] ", false);
    return !/^(n|no)$/i.test(answer.trim());
  } catch {
    return false; // Ctrl-C at the question: keep the text, as for "no"
  }
}

/**
 * `coffer file edit <path>`: decrypts to a temporary file, opens the editor, and re-encrypts on
 * save with the same data key; values whose plaintext did not change keep their ciphertext byte
 * for byte. A path that does not exist yet is created (recipients from --age or .sops.yaml).
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const path = args.path;
  const format = formatsOf(args, path);
  const config = await sopsConfigOf(args, io);
  const stores = storesOf(config);
  const existing = await readText(path);
  if (existing === null) return createNew(args, io, path);
  const opened = await openFile(Buffer.from(existing, "utf8"), format, await identitiesOf(args, io), {
    ignoreMac: args.ignoreMac,
    stores,
    keys: keyAccessOf(args, io),
  });
  if (!opened.macVerified) warnIgnoredMac(io, path);
  const before = opened.doc.serialize();
  // Parsing, re-encrypting and writing all happen while the edited text is still kept, so a
  // failure in any of them leaves it in the temporary file rather than losing it.
  const r = await editInTemp(io, basename(path), before, async (after) => {
    if (Buffer.compare(Buffer.from(before), Buffer.from(after)) === 0) return null;
    const doc = parseDocument(after, format, false, stores);
    if (doc.metadata !== null)
      throw new CofferError("INVALID_INPUT", "sops: the edited file must not contain a top-level sops entry", { field: "sops" });
    const sealed = resealFile(opened, doc);
    await writeAtomic(path, sealed.bytes);
    return sealed;
  }).finally(() => {
    opened.dataKey.fill(0);
  });
  if (r === null) {
    writeLine(io.stderr, `edit: ${path}: no changes; the file was not rewritten`);
    return 0;
  }
  writeLine(
    io.stderr,
    `edit: ${path}: saved; ${String(r.fresh)} values or comments newly encrypted, ${String(r.reused)} kept as they were`,
  );
  return 0;
}

async function createNew(args: Options<typeof command>, io: Io, path: string): Promise<number> {
  const format = formatsOf(args, path);
  const config = await sopsConfigOf(args, io);
  const recipients = recipientsFromFlags(args) ?? recipientsFromConfig(config, path, args);
  if (recipients === null)
    throw new CofferError("INVALID_INPUT", `recipients: none for the new file ${path}: pass --age or add a .sops.yaml creation rule`, {
      field: "recipients",
    });
  const template =
    format === "yaml"
      ? "# new secrets file\nexample_key: example_value\n"
      : format === "json"
        ? '{\n\t"example_key": "example_value"\n}\n'
        : "example_key=example_value\n";
  const r = await editInTemp(io, basename(path), new TextEncoder().encode(template), async (after) => {
    const sealed = await encryptFile(after, format, {
      ...recipients,
      keys: keyAccessOf(args, io),
      rule: null,
      macOnlyEncrypted: false,
      stores: storesOf(config),
    });
    await writeAtomic(path, sealed.bytes);
    return sealed;
  });
  writeLine(io.stderr, `edit: ${path}: created, ${String(r.encrypted)} values encrypted`);
  return 0;
}
