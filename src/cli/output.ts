import type { SecretView, VersionView } from "../core/service/index.ts";
import { writeLine, type Io } from "./io.ts";

/** Controls, format characters (zero-width, bidi) and line separators: never written raw to a terminal. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;
const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * Text from the store made safe for human output: `\n`, `\r`, `\t` and every other control or
 * format character as `\n`, `\u{1b}`…, so a stored value (an old row, or one written to the
 * database file directly) can neither forge a line nor send an escape sequence. Every human
 * printer goes through it; JSON output is escaped by JSON.stringify.
 */
export function escapeControls(text: string): string {
  return text.replace(UNPRINTABLE, (c) => NAMED[c] ?? `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
}

export function printJson(io: Io, value: unknown): void {
  writeLine(io.stdout, JSON.stringify(value, null, 2));
}

function metaText(meta: Readonly<Record<string, string>>): string {
  return Object.entries(meta)
    .map(([k, v]) => `${escapeControls(k)}=${escapeControls(v)}`)
    .join(",");
}

/**
 * One secret, masked. Metadata is kept per secret, not per version: for an older version it is
 * the current version's, and the line says so.
 */
export function printSecret(io: Io, v: SecretView): void {
  const hasMeta = Object.keys(v.meta).length > 0;
  const whose = hasMeta && v.version !== v.currentVersion ? ` (metadata of the current version, v${String(v.currentVersion)})` : "";
  writeLine(
    io.stdout,
    `${escapeControls(v.owner)} ${escapeControls(v.key)} v${String(v.version)} ${v.value}${hasMeta ? ` ${metaText(v.meta)}` : ""}${whose}`,
  );
}

/** A table of secrets, masked; metadata only with `withMeta`; a DELETED column with `withDeleted`. */
export function printSecretTable(io: Io, items: readonly SecretView[], withMeta: boolean, withDeleted = false): void {
  const rows = items.map((v) => [
    v.owner,
    v.key,
    `v${String(v.version)}`,
    v.value,
    v.updatedAt,
    ...(withDeleted ? [v.deletedAt === null ? "" : `deleted ${v.deletedAt}`] : []),
    ...(withMeta ? [metaText(v.meta)] : []),
  ]);
  printTable(io, ["OWNER", "KEY", "VERSION", "VALUE", "UPDATED", ...(withDeleted ? ["DELETED"] : []), ...(withMeta ? ["META"] : [])], rows);
}

export function printVersions(io: Io, versions: readonly VersionView[]): void {
  printTable(
    io,
    ["VERSION", "CREATED", "BY", "STATE"],
    versions.map((v) => [
      `v${String(v.version)}`,
      v.createdAt,
      v.createdBy,
      v.destroyedAt !== null ? "destroyed" : v.current ? "current" : "",
    ]),
  );
}

export function printTable(io: Io, head: readonly string[], cells: readonly (readonly string[])[]): void {
  const rows = cells.map((r) => r.map(escapeControls));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  writeLine(io.stdout, line(head));
  for (const r of rows) writeLine(io.stdout, line(r));
}
