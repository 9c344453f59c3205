import { readFile } from "node:fs/promises";
import { CofferError } from "../../core/errors/index.ts";
import { withBackend } from "../choose-backend.ts";
import { readAll, writeLine, type Io } from "../io.ts";
import { printJson } from "../output.ts";
import { flag, globalOptions, pos, required, str } from "./args.ts";

function ref(args: Record<string, unknown>): { owner: string; name: string } {
  return { owner: required(pos(args, 0), "<owner>"), name: required(pos(args, 1), "<name>") };
}

/** `coffer template put <owner> <name> [--file F]`: the text from the file or standard input. */
export async function put(args: Record<string, unknown>, io: Io): Promise<number> {
  const r = ref(args);
  const file = str(args, "file");
  let text: string;
  try {
    text = file === undefined ? Buffer.from(await readAll(io.stdin)).toString("utf8") : await readFile(file, "utf8");
  } catch (e) {
    throw new CofferError("INVALID_INPUT", `file: cannot read ${String(file)} (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, {
      field: "file",
    });
  }
  const view = await withBackend(io, globalOptions(args), (b) => b.templates.put({ ...r, text }));
  if (flag(args, "json")) printJson(io, view);
  else
    writeLine(
      io.stdout,
      `stored template ${view.owner} ${view.name} (${String(view.references ?? 0)} references, format ${view.format ?? "unknown"})`,
    );
  return 0;
}

export async function get(args: Record<string, unknown>, io: Io): Promise<number> {
  const t = await withBackend(io, globalOptions(args), (b) => b.templates.get(ref(args)));
  if (flag(args, "json")) printJson(io, t);
  else io.stdout.write(t.text);
  return 0;
}

export async function list(args: Record<string, unknown>, io: Io): Promise<number> {
  const owner = required(pos(args, 0), "<owner>");
  const items = await withBackend(io, globalOptions(args), (b) => b.templates.list(owner));
  if (flag(args, "json")) printJson(io, items);
  else for (const t of items) writeLine(io.stdout, `${t.owner} ${t.name} ${t.format ?? "-"} updated ${t.updatedAt} by ${t.updatedBy}`);
  return 0;
}

export async function remove(args: Record<string, unknown>, io: Io): Promise<number> {
  const r = ref(args);
  await withBackend(io, globalOptions(args), (b) => b.templates.delete(r));
  if (flag(args, "json")) printJson(io, { deleted: true, ...r });
  else writeLine(io.stdout, `deleted template ${r.owner} ${r.name}`);
  return 0;
}
