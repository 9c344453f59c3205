import { CofferError } from "../../core/errors/index.ts";

/** Typed access to commander's parsed options, failing as USAGE on a wrong shape. */
export function str(args: Record<string, unknown>, name: string): string | undefined {
  const v = args[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new CofferError("USAGE", `--${name} needs a value`);
  return v;
}

export function num(args: Record<string, unknown>, name: string): number | undefined {
  const v = args[name];
  return typeof v === "number" ? v : undefined;
}

export function flag(args: Record<string, unknown>, name: string): boolean {
  return args[name] === true;
}

export function list(args: Record<string, unknown>, name: string): readonly string[] {
  const v = args[name];
  return Array.isArray(v) ? v.map(String) : [];
}

/** Positional argument `i` (commander's processed args). */
export function pos(args: Record<string, unknown>, i: number): string | undefined {
  const p = args["_"];
  if (!Array.isArray(p)) return undefined;
  const v: unknown = p[i];
  return typeof v === "string" ? v : undefined;
}

export function required(value: string | undefined, name: string): string {
  if (value === undefined) throw new CofferError("USAGE", `missing ${name}`);
  return value;
}

/** `k=v` pairs from repeatable --meta flags. */
export function parseMetaFlags(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw new CofferError("INVALID_INPUT", "meta: each --meta must be key=value", { field: "meta" });
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

/** The options that choose the backend: the data directory and database, or `--remote` (before the command or on it). */
export function globalOptions(args: Record<string, unknown>): {
  home: string | undefined;
  db: string | undefined;
  remote: string | undefined;
} {
  return { home: str(args, "home"), db: str(args, "db"), remote: str(args, "remote") };
}
