import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { CofferError } from "../../core/errors/index.ts";
import { LEGACY_FORMATS, LegacyImport, LOCAL_CONTEXT, type LegacyFormat, type LegacyImportSummary } from "../../core/service/index.ts";
import { writeLine, type Io } from "../io.ts";
import { withCore } from "../local-core.ts";
import { printJson, printTable } from "../output.ts";
import { flag, globalOptions, required, str } from "./args.ts";
import { refuseRemote } from "../choose-backend.ts";

/** `--format`, or the file's extension (`.csv`, `.json`); nothing is guessed from the content. */
function formatOf(path: string, given: string | undefined): LegacyFormat {
  const name = given ?? extname(path).slice(1).toLowerCase();
  const format = LEGACY_FORMATS.find((f) => f === name);
  if (format === undefined) throw new CofferError("USAGE", `cannot tell the format of ${path}; give --format csv or --format json`);
  return format;
}

function readListing(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    throw new CofferError("INVALID_INPUT", `legacy: cannot read ${path} (${code})`, { field: "legacy" });
  }
}

function printSummary(io: Io, s: LegacyImportSummary): void {
  const rows = s.secrets.map((x) => [x.owner, x.key, `v${String(x.version)}`, x.kid === null ? "v1" : `v2:${x.kid}`, String(x.line)]);
  printTable(io, ["OWNER", "KEY", "VERSION", "LEGACY", "LINE"], rows);
  const kids = Object.entries(s.v2ByKid).map(([kid, n]) => `${kid} ${String(n)}`);
  const v2 = kids.length === 0 ? "v2 0" : `v2 ${String(s.imported - s.v1)} (${kids.join(", ")})`;
  const what = `${String(s.imported)} secret(s) for ${String(s.owners)} owner(s), ${String(s.existing)} of them new versions of existing secrets`;
  const verb = s.dryRun ? "dry run: verified" : "imported";
  writeLine(io.stdout, `${verb} ${what}; legacy formats: v1 ${String(s.v1)}, ${v2}${s.dryRun ? "; nothing was written" : ""}`);
}

/**
 * `coffer import --legacy <file> (--legacy-key-file <path> | --legacy-keyring <path>)`:
 * imports `v1:`/`v2:` portable values from a CSV or JSON listing, all or nothing, each value
 * verified by a round trip. Prints owners, key names, versions and counts; never a value.
 */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  refuseRemote(io, globalOptions(args), "import --legacy");
  const path = required(str(args, "legacy"), "--legacy <file>");
  const keyFile = str(args, "legacyKeyFile");
  const keyringFile = str(args, "legacyKeyring");
  if (keyFile === undefined && keyringFile === undefined) {
    throw new CofferError(
      "USAGE",
      "give the legacy key: --legacy-key-file <path> (v1 values), --legacy-keyring <path> (v2 values), or both",
    );
  }
  const format = formatOf(path, str(args, "format"));
  const text = readListing(path);
  const summary = await withCore(io, globalOptions(args), (core, actor) =>
    new LegacyImport(core).run(actor, LOCAL_CONTEXT, { text, format, keyFile, keyringFile, dryRun: flag(args, "dryRun") }),
  );
  if (flag(args, "json")) printJson(io, summary);
  else printSummary(io, summary);
  return 0;
}
