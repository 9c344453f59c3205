import { readFile } from "node:fs/promises";
import { CofferError } from "../../core/errors/index.ts";
import { arg, defineCommand, json, text, type Options } from "../command.ts";
import { withBackend } from "../choose-backend.ts";
import { readAll, writeLine, type Io } from "../io.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";

export const command = defineCommand({
  args: [arg("owner"), arg("name")],
  options: [text("file", "--file <path>", "read the template from a file (default: standard input)"), json],
  example: "coffer template put project/acme backup.toml --file backup.toml.tmpl",
});

/** `coffer template put <owner> <name> [--file F]`: the text from the file or standard input. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const r = { owner: args.owner, name: args.name };
  const file = args.file;
  let text: string;
  try {
    text = file === undefined ? Buffer.from(await readAll(io.stdin)).toString("utf8") : await readFile(file, "utf8");
  } catch (e) {
    throw new CofferError("INVALID_INPUT", `file: cannot read ${String(file)} (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, {
      field: "file",
    });
  }
  const view = await withBackend(io, globalOptions(args), (b) => b.templates.put({ ...r, text }));
  if (args.json) printJson(io, view);
  else
    writeLine(
      io.stdout,
      `stored template ${view.owner} ${view.name} (${String(view.references ?? 0)} references, format ${view.format ?? "unknown"})`,
    );
  return 0;
}
