import type { SecretView, VersionView } from "../core/service/index.ts";
import { writeLine, type Io } from "./io.ts";

export function printJson(io: Io, value: unknown): void {
  writeLine(io.stdout, JSON.stringify(value, null, 2));
}

function metaText(meta: Readonly<Record<string, string>>): string {
  return Object.entries(meta)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** One secret, masked. */
export function printSecret(io: Io, v: SecretView): void {
  writeLine(
    io.stdout,
    `${v.owner} ${v.key} v${String(v.version)} ${v.value}${Object.keys(v.meta).length > 0 ? ` ${metaText(v.meta)}` : ""}`,
  );
}

/** A table of secrets, masked; metadata only with `withMeta`. */
export function printSecretTable(io: Io, items: readonly SecretView[], withMeta: boolean): void {
  const rows = items.map((v) => [v.owner, v.key, `v${String(v.version)}`, v.value, v.updatedAt, ...(withMeta ? [metaText(v.meta)] : [])]);
  printTable(io, ["OWNER", "KEY", "VERSION", "VALUE", "UPDATED", ...(withMeta ? ["META"] : [])], rows);
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

export function printTable(io: Io, head: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  writeLine(io.stdout, line(head));
  for (const r of rows) writeLine(io.stdout, line(r));
}
