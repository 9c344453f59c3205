import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CofferError, isCofferError } from "../../core/errors/index.ts";
import { formatOwner, parseOwner } from "../../core/model/index.ts";
import {
  parseTemplate,
  resolveTemplateFormat,
  referenceName,
  renderTemplate,
  templateReferences,
  type SecretReference,
} from "../../core/template/index.ts";
import type { Backend } from "../backend.ts";
import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { writeLine } from "../io.ts";
import { globalOptions, required } from "./args.ts";
import { defineCommand, text, textOr, type Options } from "../command.ts";

export const command = defineCommand({
  options: [
    text("template", "--template <file>", 'a template file, e.g. backup.toml.tmpl with {{ secret "project/acme" "RUSTIC_PASSWORD" }}'),
    text("stored", "--stored <owner/name>", "a template stored on the server or database, e.g. project/acme/backup.toml"),
    text("owner", "--owner <owner>", 'the owner of short references ({{ secret "KEY" }})'),
    text("out", "--out <file>", "write here atomically (default: standard output)"),
    textOr("mode", "--mode <octal>", "the mode of --out, set before any byte is written", "0600"),
    text("format", "--format <format>", "toml, json, yaml, dotenv, shell or text (default: from the template's name)"),
    text("reason", "--reason <text>", "recorded with each reveal (default: render <template name>)"),
  ],
  example: "coffer render --template backup.toml.tmpl --owner project/acme --out /etc/rustic/backup.toml --mode 0600",
});

const MODE_RULE = "must be an octal file mode such as 0600 or 0640";

function parseMode(text: string | undefined): number {
  if (text === undefined) return 0o600;
  if (!/^0?[0-7]{3}$/.test(text)) throw new CofferError("INVALID_INPUT", `mode: ${MODE_RULE}`, { field: "mode" });
  return parseInt(text, 8);
}

type Resolved = { readonly owner: string; readonly ref: SecretReference; readonly id: string };

/** Each reference with its owner (written, or --owner), validated before anything is read. */
function resolveOwners(refs: readonly SecretReference[], defaultOwner: string | undefined): Resolved[] {
  return refs.map((ref) => {
    const text = ref.owner ?? defaultOwner;
    if (text === undefined)
      throw new CofferError(
        "INVALID_INPUT",
        `template: ${ref.key} (line ${String(ref.line)}) names no owner; pass --owner or write secret "project/<id>" "${ref.key}"`,
        { field: "owner" },
      );
    const owner = formatOwner(parseOwner(text, "owner"));
    return { owner, ref, id: `${owner}\u0000${ref.key}\u0000${String(ref.version ?? "")}` };
  });
}

/**
 * Reads every distinct reference: first a masked read of each (so a missing secret or a denied
 * owner fails the render before anything is revealed), then one audited reveal each.
 */
async function fetchValues(b: Backend, refs: readonly Resolved[], reason: string): Promise<Map<string, Uint8Array | null>> {
  const values = new Map<string, Uint8Array | null>();
  const present: Resolved[] = [];
  for (const r of refs) {
    if (values.has(r.id)) continue;
    const version = r.ref.version === null ? {} : { version: r.ref.version };
    try {
      await b.get({ owner: r.owner, key: r.ref.key, ...version });
      present.push(r);
      values.set(r.id, new Uint8Array(0));
    } catch (e) {
      if (!isCofferError(e) || e.code !== "NOT_FOUND") throw e;
      if (r.ref.fallback === null)
        throw new CofferError("NOT_FOUND", `template: ${referenceName(r.ref, r.owner)} does not exist; nothing was written`, {
          field: "template",
          reference: referenceName(r.ref, r.owner),
        });
      values.set(r.id, null);
    }
  }
  for (const r of present) {
    const version = r.ref.version === null ? {} : { version: r.ref.version };
    const { value } = await b.reveal({ owner: r.owner, key: r.ref.key, reason, ...version });
    values.set(r.id, value.reveal());
    value.wipe();
  }
  return values;
}

/** Writes through a temporary file created with its final mode, then renames it into place. */
async function writeAtomicWithMode(path: string, bytes: Uint8Array, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const fh = await open(tmp, "wx", mode);
    try {
      await fh.chmod(mode); // the umask may have narrowed or the file system widened it: set it before any byte
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new CofferError("INVALID_INPUT", `out: cannot write ${path} (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, { field: "out" });
  }
}

/** `project/acme/backup.toml` → owner `project/acme`, name `backup.toml`; `system/x.env` → `system`. */
function storedRef(text: string): { owner: string; name: string } {
  const m = /^(system|(?:user|project)\/[^/]+)\/([^/]+)$/.exec(text);
  if (m === null)
    throw new CofferError("INVALID_INPUT", "stored: must be <owner>/<name>, e.g. project/acme/backup.toml", { field: "stored" });
  return { owner: m[1] ?? "", name: m[2] ?? "" };
}

async function output(io: Io, out: string | undefined, bytes: Uint8Array, mode: number, what: string): Promise<void> {
  if (out === undefined) io.stdout.write(bytes);
  else {
    await writeAtomicWithMode(out, bytes, mode);
    writeLine(io.stderr, `rendered ${what} to ${out} (mode ${mode.toString(8).padStart(4, "0")})`);
  }
}

export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const stored = args.stored;
  if (stored !== undefined) {
    if (args.template !== undefined) throw new CofferError("USAGE", "give --template <file> or --stored <owner>/<name>, not both");
    const ref = storedRef(stored);
    const mode = parseMode(args.mode);
    const reason = args.reason;
    const format = args.format;
    return withBackend(io, globalOptions(args), async (b) => {
      const bytes = await b.templates.render({
        ...ref,
        ...(reason === undefined ? {} : { reason }),
        ...(format === undefined ? {} : { format }),
      });
      try {
        await output(io, args.out, bytes, mode, `${ref.owner}/${ref.name}`);
      } finally {
        bytes.fill(0);
      }
      return 0;
    });
  }
  const path = required(args.template, "--template <file> or --stored <owner>/<name>");
  const format = resolveTemplateFormat(args.format, path);
  const mode = parseMode(args.mode);
  const out = args.out;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new CofferError("INVALID_INPUT", `template: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, {
      field: "template",
    });
  }
  const template = parseTemplate(text);
  const refs = resolveOwners(templateReferences(template), args.owner);
  const reason = args.reason ?? `render ${basename(path)}`;
  return withBackend(io, globalOptions(args), async (b) => {
    const values = await fetchValues(b, refs, reason);
    const byRef = new Map(refs.map((r) => [r.ref, r]));
    let rendered: Uint8Array | null = null;
    try {
      rendered = renderTemplate(template, format, (ref) => {
        const r = byRef.get(ref);
        if (r === undefined) throw new CofferError("INTERNAL", "template reference not resolved");
        const v = values.get(r.id) ?? null;
        return { owner: r.owner, value: v === null ? null : Uint8Array.from(v) };
      });
      await output(io, out, rendered, mode, basename(path));
    } finally {
      rendered?.fill(0);
      for (const v of values.values()) v?.fill(0);
    }
    return 0;
  });
}
