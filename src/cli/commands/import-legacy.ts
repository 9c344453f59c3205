import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { CofferError } from "../../core/errors/index.ts";
import { LEGACY_FORMATS, LOCAL_CONTEXT, type LegacyFormat, type LegacyImportSummary } from "../../core/service/index.ts";
import { writeLine, type Io } from "../io.ts";
import { withCore } from "../local-core.ts";
import { printJson, printTable } from "../output.ts";
import { globalOptions, required } from "./args.ts";
import { refuseRemote } from "../choose-backend.ts";
import { defineCommand, choice, flag, json, requiredText, text, type Options } from "../command.ts";

export const command = defineCommand({
  options: [
    requiredText("legacy", "--legacy <file>", "a CSV (header owner,key,value) or JSON array of { owner, key, value }"),
    text("legacyKeyFile", "--legacy-key-file <path>", "the legacy master key for v1: values (base64, 32 bytes, mode 0600)"),
    text(
      "legacyKeyring",
      "--legacy-keyring <path>",
      'the legacy keyring for v2:<kid>: values ({ "active", "keys": { "<kid>": "<base64>" } })',
    ),
    choice("format", "--format <format>", "the listing's format (default: from the file extension)", ["csv", "json"]),
    flag("dryRun", "--dry-run", "decrypt, re-encrypt and verify everything, then write nothing"),
    json,
  ],
  example: "coffer import --legacy secrets.csv --legacy-key-file legacy.key --dry-run",
});

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
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  refuseRemote(io, globalOptions(args), "import --legacy");
  const path = required(args.legacy, "--legacy <file>");
  const keyFile = args.legacyKeyFile;
  const keyringFile = args.legacyKeyring;
  if (keyFile === undefined && keyringFile === undefined) {
    throw new CofferError(
      "USAGE",
      "give the legacy key: --legacy-key-file <path> (v1 values), --legacy-keyring <path> (v2 values), or both",
    );
  }
  const format = formatOf(path, args.format);
  const text = readListing(path);
  const summary = await withCore(io, globalOptions(args), (core, actor) =>
    core.admin.legacyImport.run(actor, LOCAL_CONTEXT, { text, format, keyFile, keyringFile, dryRun: args.dryRun }),
  );
  if (args.json) printJson(io, summary);
  else printSummary(io, summary);
  return 0;
}
