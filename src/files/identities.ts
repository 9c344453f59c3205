import { homedir } from "node:os";
import { join } from "node:path";
import { CofferError } from "../core/errors/index.ts";

/**
 * Where age identities come from, as sops collects them (FORMAT.md §6): `SOPS_AGE_KEY`
 * (whitespace-separated), `SOPS_AGE_KEY_FILE`, `--identity <file>` (Coffer's flag, repeatable),
 * and the default `$XDG_CONFIG_HOME/sops/age/keys.txt` (`~/.config/…`). A key file has one
 * identity per line; `#` comments and blank lines are skipped. Identities are only ever handed
 * to age: they never appear in an error or a log line.
 */
export type IdentitySources = {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly identityFiles: readonly string[];
  /** Reads a file as text; `null` when it does not exist. */
  readonly readText: (path: string) => Promise<string | null>;
};

const IDENTITY = /^AGE-SECRET-KEY-(?:PQ-)?1[02-9AC-HJ-NP-Z]+$/;

function parseKeyText(text: string, source: string): string[] {
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    if (line.startsWith("AGE-PLUGIN-")) return; // plugin identities need the plugin binary: not supported
    if (!IDENTITY.test(line))
      throw new CofferError(
        "KEY_INVALID",
        `${source}: line ${String(i + 1)} is not an age identity (AGE-SECRET-KEY-1… or AGE-SECRET-KEY-PQ-1…)`,
        {
          source,
          line: i + 1,
        },
      );
    out.push(line);
  });
  return out;
}

/** @throws CofferError KEY_INVALID naming the source and line; KEY_UNAVAILABLE for a named file that is missing. */
export async function loadIdentities(src: IdentitySources): Promise<string[]> {
  const out: string[] = [];
  const inline = src.env["SOPS_AGE_KEY"];
  if (inline !== undefined && inline.trim() !== "") out.push(...parseKeyText(inline.split(/\s+/).join("\n"), "SOPS_AGE_KEY"));
  const named = [...(src.env["SOPS_AGE_KEY_FILE"] ? [src.env["SOPS_AGE_KEY_FILE"]] : []), ...src.identityFiles];
  for (const file of named) {
    const text = await src.readText(file);
    if (text === null) throw new CofferError("KEY_UNAVAILABLE", `${file}: age identity file not found`, { source: file });
    out.push(...parseKeyText(text, file));
  }
  const config =
    src.env["XDG_CONFIG_HOME"] ?? (src.env["HOME"] === undefined ? join(homedir(), ".config") : join(src.env["HOME"], ".config"));
  const fallback = join(config, "sops", "age", "keys.txt");
  const text = await src.readText(fallback);
  if (text !== null) out.push(...parseKeyText(text, fallback));
  return [...new Set(out)];
}
