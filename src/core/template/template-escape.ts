import { CofferError } from "../errors/index.ts";
import type { TemplateFilter } from "./template-parse.ts";

/**
 * Output formats of a rendered template. Each reference is escaped for the format as a whole
 * literal, quotes included, so a value can never end the string early or add a line:
 * `password = {{ secret "RUSTIC_PASSWORD" }}` renders `password = "p\"w"` in TOML.
 * `text` escapes nothing (for formats Coffer does not know; the template's author is then
 * responsible for quoting).
 */
export const TEMPLATE_FORMATS = ["toml", "json", "yaml", "dotenv", "shell", "text"] as const;
export type TemplateFormat = (typeof TEMPLATE_FORMATS)[number];

const EXTENSIONS: Readonly<Record<string, TemplateFormat>> = {
  toml: "toml",
  json: "json",
  yaml: "yaml",
  yml: "yaml",
  env: "dotenv",
  sh: "shell",
  bash: "shell",
  txt: "text",
};

/** `backup.toml.tmpl` → `toml`; `.env.tmpl` → `dotenv`; null when the name says nothing. */
export function templateFormatFromName(name: string): TemplateFormat | null {
  const base = name.split("/").pop() ?? name;
  const stripped = base.replace(/\.(tmpl|tpl|template)$/i, "");
  if (stripped === ".env" || /\.env$/i.test(stripped)) return "dotenv";
  const ext = /\.([A-Za-z0-9]+)$/.exec(stripped)?.[1]?.toLowerCase();
  return ext === undefined ? null : (EXTENSIONS[ext] ?? null);
}

/**
 * The output format: `given` (a `--format` flag or request field) when there is one, else from
 * the template's name. @throws CofferError INVALID_INPUT (field `format`) naming the choices.
 */
export function resolveTemplateFormat(given: string | undefined, name: string): TemplateFormat {
  if (given !== undefined) {
    if (!(TEMPLATE_FORMATS as readonly string[]).includes(given))
      throw new CofferError("INVALID_INPUT", `format: must be one of ${TEMPLATE_FORMATS.join(", ")}`, { field: "format" });
    return given as TemplateFormat;
  }
  const f = templateFormatFromName(name);
  if (f === null) {
    const base = name.split("/").pop() ?? name;
    throw new CofferError(
      "INVALID_INPUT",
      `format: ${base} does not say its format; name it like backup.toml.tmpl or pass --format (${TEMPLATE_FORMATS.join(", ")})`,
      { field: "format" },
    );
  }
  return f;
}

/** The media type a rendered template is served with. */
export function templateContentType(format: TemplateFormat): string {
  switch (format) {
    case "json":
      return "application/json";
    case "toml":
      return "application/toml";
    case "yaml":
      return "application/yaml";
    case "dotenv":
    case "shell":
    case "text":
      return "text/plain; charset=utf-8";
  }
}

const hex4 = (c: number): string => c.toString(16).toUpperCase().padStart(4, "0");

/** A TOML basic string: `"`, `\` and every control character but none of the rest escaped. */
function tomlString(s: string): string {
  const short: Readonly<Record<string, string>> = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
  };
  // eslint-disable-next-line no-control-regex
  return `"${s.replace(/["\\\u0000-\u001f\u007f]/g, (c) => short[c] ?? `\\u${hex4(c.charCodeAt(0))}`)}"`;
}

/**
 * A YAML double-quoted scalar. Everything outside YAML's printable set is escaped, and so are
 * the characters some parsers treat as line breaks or byte-order marks (U+0085, U+2028,
 * U+2029, U+FEFF) and tab, so the scalar is one line that every YAML 1.1 and 1.2 parser reads back as is.
 */
function yamlString(s: string): string {
  const short: Readonly<Record<string, string>> = { '"': '\\"', "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0" };
  // eslint-disable-next-line no-control-regex
  return `"${s.replace(/["\\\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g, (c) => short[c] ?? `\\u${hex4(c.charCodeAt(0))}`)}"`;
}

/**
 * A dotenv value. Single quotes (taken literally by every dotenv reader: the `dotenv` and
 * dotenvx packages, python-dotenv, Docker Compose, Coffer's own import) when the value has no
 * `'` and no carriage return; otherwise double quotes with `\\`, `\"`, `\n`, `\r`, `\t` and `\$`
 * escapes (read by Compose, python-dotenv and Coffer; see docs/templates.md for the npm
 * `dotenv` package, which does not unescape `\"`).
 */
function dotenvString(s: string): string {
  if (!s.includes("'") && !s.includes("\r")) return `'${s}'`;
  const short: Readonly<Record<string, string>> = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", $: "\\$" };
  return `"${s.replace(/["\\\n\r\t$]/g, (c) => short[c] ?? c)}"`;
}

/** A POSIX shell word: single quotes, each `'` written as `'\''`. */
function shellString(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

type Where = { readonly name: string };

function textOf(bytes: Uint8Array, where: Where, format: string): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new CofferError(
      "INVALID_INPUT",
      `${where.name}: the value is not UTF-8 text, which ${format} cannot hold; use | base64 or | hex`,
      { field: "template", reference: where.name },
    );
  }
}

function noNul(text: string, where: Where, format: string): string {
  if (text.includes("\0"))
    throw new CofferError("INVALID_INPUT", `${where.name}: the value contains a NUL byte, which ${format} cannot hold; use | base64`, {
      field: "template",
      reference: where.name,
    });
  return text;
}

type Escape = "raw" | "json" | "toml" | "yaml" | "dotenv" | "shell";

function escapeFor(escape: Escape, bytes: Uint8Array, where: Where): Uint8Array {
  if (escape === "raw") return bytes;
  const text = textOf(bytes, where, escape);
  switch (escape) {
    case "json":
      return Buffer.from(JSON.stringify(text), "utf8");
    case "toml":
      return Buffer.from(tomlString(text), "utf8");
    case "yaml":
      return Buffer.from(yamlString(text), "utf8");
    case "dotenv":
      return Buffer.from(dotenvString(noNul(text, where, "a dotenv file")), "utf8");
    case "shell":
      return Buffer.from(shellString(noNul(text, where, "a shell word")), "utf8");
  }
}

/**
 * Applies a reference's filters to a value, then escapes it for the output format (unless a
 * filter chose another escape, or `raw`). Encoding filters (`base64`, `base64url`, `hex`,
 * `trim`) come first; at most one escape filter, last.
 * @throws CofferError INVALID_INPUT naming the reference.
 */
export function renderValue(value: Uint8Array, filters: readonly TemplateFilter[], format: TemplateFormat, where: Where): Uint8Array {
  let bytes: Uint8Array = value;
  let escape: Escape | null = null;
  for (const f of filters) {
    if (escape !== null)
      throw new CofferError("INVALID_INPUT", `${where.name}: | ${f} comes after | ${escape}; the escape filter must be last`, {
        field: "template",
        reference: where.name,
      });
    switch (f) {
      case "base64":
      case "base64url":
      case "hex":
        bytes = Buffer.from(Buffer.from(bytes).toString(f), "utf8");
        break;
      case "trim":
        bytes = Buffer.from(textOf(bytes, where, "trim").trim(), "utf8");
        break;
      default:
        escape = f;
    }
  }
  return escapeFor(escape ?? (format === "text" ? "raw" : format), bytes, where);
}

/** One value as a whole literal of `format` (what a bare reference renders). @throws CofferError INVALID_INPUT naming `name`. */
export function escapeValue(value: Uint8Array, format: Exclude<TemplateFormat, "text">, name: string): Uint8Array {
  return escapeFor(format, value, { name });
}
