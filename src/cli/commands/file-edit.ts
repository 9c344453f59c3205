import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { CofferError } from "../../core/errors/index.ts";
import { encryptFile, openFile, parseDocument, resealFile } from "../../files/index.ts";
import { writeLine, type Io } from "../io.ts";
import {
  formatsOf,
  identitiesOf,
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
 * parses it. The directory is deleted unless `accept` throws: then the edited text stays there
 * (private to the user) and the error says where, so no edit is lost to a syntax error.
 */
async function editInTemp<T>(io: Io, name: string, plaintext: Uint8Array, accept: (edited: Uint8Array) => T | Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "coffer-edit-"));
  const file = join(dir, name);
  const state = { keep: false };
  try {
    await writeFile(file, plaintext, { mode: 0o600, flag: "wx" });
    const status = await runEditor(io, file);
    if (status !== 0) throw new CofferError("USAGE", `the editor exited with status ${String(status)}; nothing was written`);
    const edited = await readFile(file);
    try {
      return await accept(edited);
    } catch (e) {
      if (!(e instanceof CofferError) || e.code !== "INVALID_INPUT") throw e;
      state.keep = true;
      throw new CofferError(
        "INVALID_INPUT",
        `${e.message}; nothing was written, and your edited text is kept in ${file} (readable only by you): fix it there and re-encrypt, or delete it`,
        e.details,
        { cause: e },
      );
    }
  } finally {
    if (!state.keep) await rm(dir, { recursive: true, force: true });
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
  });
  if (!opened.macVerified) warnIgnoredMac(io, path);
  const before = opened.doc.serialize();
  const edited = await editInTemp(io, basename(path), before, (after) => {
    if (Buffer.compare(Buffer.from(before), Buffer.from(after)) === 0) return null;
    const doc = parseDocument(after, format, false, stores);
    if (doc.metadata !== null)
      throw new CofferError("INVALID_INPUT", "sops: the edited file must not contain a top-level sops entry", { field: "sops" });
    return doc;
  }).catch((e: unknown) => {
    opened.dataKey.fill(0);
    throw e;
  });
  if (edited === null) {
    opened.dataKey.fill(0);
    writeLine(io.stderr, `edit: ${path}: no changes; the file was not rewritten`);
    return 0;
  }
  const r = resealFile(opened, edited);
  opened.dataKey.fill(0);
  await writeAtomic(path, r.bytes);
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
  const r = await editInTemp(io, basename(path), new TextEncoder().encode(template), (after) =>
    encryptFile(after, format, { ...recipients, rule: null, macOnlyEncrypted: false, stores: storesOf(config) }),
  );
  await writeAtomic(path, r.bytes);
  writeLine(io.stderr, `edit: ${path}: created, ${String(r.encrypted)} values encrypted`);
  return 0;
}
