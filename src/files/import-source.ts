import { isMap, isScalar, LineCounter, parseDocument as parseYamlDocument } from "yaml";
import { CofferError } from "../core/errors/index.ts";
import { Secret } from "../core/secret/index.ts";
import { isAgeFile, openBundle, type BundleKeys, type BundleManifest } from "./bundle.ts";
import { envFromDocument } from "./exec-env.ts";
import { formatFromPath, openFile, type FileFormat } from "./sops-file.ts";

/** What `coffer secrets import` and `POST /v1/secrets:import` read. */
export const IMPORT_FORMATS = ["dotenv", "json", "yaml", "sops", "bundle"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];
const PLAINTEXT: readonly ImportFormat[] = ["dotenv", "json", "yaml"];

/** One secret read from a source; `where` (`line 7`, `key "X"`) is for error messages. */
export type SourceEntry = {
  readonly key: string;
  readonly value: Secret;
  readonly where: string;
  readonly meta?: Readonly<Record<string, string>>;
};
export type ImportSource = {
  readonly format: ImportFormat;
  readonly entries: readonly SourceEntry[];
  /** A bundle's manifest (its owner is the default target). */
  readonly manifest: BundleManifest | null;
};

export type ReadOptions = BundleKeys & {
  readonly allowPlaintext: boolean;
  /** The file's path, when there is one: tells a SOPS file's own format by its extension. */
  readonly path: string | null;
};

const utf8 = new TextDecoder("utf-8", { fatal: true });
const bad = (where: string, rule: string): CofferError => new CofferError("INVALID_INPUT", `${where}: ${rule}`, { field: where });

function text(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new CofferError("INVALID_INPUT", `${what}: must be UTF-8 text`, { field: "content" });
  }
}

/** A SOPS-encrypted YAML/JSON/dotenv file carries its metadata under `sops` (`sops_…` in dotenv). */
function looksLikeSops(t: string): boolean {
  return /^sops:\s*$/m.test(t) || /"sops"\s*:\s*\{/.test(t) || /^sops_(?:version|mac|lastmodified)=/m.test(t);
}

/**
 * The format: a bundle by its age magic, a SOPS file by its metadata, else the extension
 * (`.env`, `.json`, `.yaml`/`.yml`, `.age`). @throws CofferError USAGE when it cannot tell.
 */
export function detectImportFormat(path: string | null, bytes: Uint8Array): ImportFormat {
  if (isAgeFile(bytes)) return "bundle";
  const head = new TextDecoder().decode(bytes);
  if (looksLikeSops(head)) return "sops";
  const ext = /\.([A-Za-z0-9]+)$/.exec(path ?? "")?.[1]?.toLowerCase();
  const byExt: Record<string, ImportFormat> = { env: "dotenv", json: "json", yaml: "yaml", yml: "yaml", age: "bundle" };
  const base = /(?:^|\/)\.env(?:\.[^/]*)?$/.test(path ?? "") ? "dotenv" : undefined;
  const f = base ?? (ext === undefined ? undefined : byExt[ext]);
  if (f === undefined)
    throw new CofferError("USAGE", `cannot tell the format of ${path ?? "the content"}; give --format ${IMPORT_FORMATS.join("|")}`);
  return f;
}

const DQ_ESCAPES: Readonly<Record<string, string>> = { n: "\n", r: "\r", t: "\t", '"': '"', "\\": "\\" };

/**
 * A quoted value starting at `lines[i]` (after the opening quote, `rest`), possibly over several
 * lines; returns the value and the index of the line holding the closing quote.
 */
function quoted(lines: readonly string[], i: number, rest: string, quote: string, where: string): { value: string; end: number } {
  let value = "";
  let line = rest;
  for (let at = i; ;) {
    for (let k = 0; k < line.length; k++) {
      const c = line[k] ?? "";
      if (c === quote) {
        const after = line.slice(k + 1);
        if (!/^\s*(?:#.*)?$/.test(after)) throw bad(where, `unexpected text after the closing ${quote}`);
        return { value, end: at };
      }
      if (quote === '"' && c === "\\" && k + 1 < line.length) {
        const next = line[k + 1] ?? "";
        value += DQ_ESCAPES[next] ?? `\\${next}`;
        k++;
        continue;
      }
      value += c;
    }
    at++;
    if (at >= lines.length) throw bad(where, `unterminated ${quote} quote`);
    value += "\n";
    line = lines[at] ?? "";
  }
}

/**
 * dotenv as dotenv/dotenvx/Docker Compose read it (docs/import-export.md gives the exact rules):
 * blank lines and `#` comments skipped; an optional `export ` before the key; `KEY=VALUE` split
 * at the first `=`, with spaces around the key and before the value ignored. A value in double
 * quotes may span lines and knows the escapes `\n \r \t \" \\` (any other backslash is kept); in
 * single quotes or backticks it is taken literally, lines included; after the closing quote only a
 * comment may follow. An unquoted value ends at a ` #` comment and is trimmed; sops's `\n` (two
 * characters) in it is a newline. Never any `$` expansion. A CRLF line's `\r` is dropped.
 */
export function parseDotenvEntries(bytes: Uint8Array): SourceEntry[] {
  const out: SourceEntry[] = [];
  const lines = text(bytes, "dotenv")
    .replace(/^\uFEFF/, "")
    .split("\n")
    .map((raw) => (raw.endsWith("\r") ? raw.slice(0, -1) : raw));
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const where = `line ${String(i + 1)}`;
    const body = line.trimStart();
    if (body === "" || body.startsWith("#")) continue;
    const decl = /^export[ \t]+(?=\S)/.test(body) && !/^export[ \t]*=/.test(body) ? body.replace(/^export[ \t]+/, "") : body;
    const eq = decl.indexOf("=");
    const key = eq < 0 ? "" : decl.slice(0, eq).trim();
    if (key === "") throw bad(where, "expected KEY=VALUE or a # comment");
    const raw = decl.slice(eq + 1);
    const rest = raw.replace(/^[ \t]+/, "");
    const q = rest[0];
    if (q === '"' || q === "'" || q === "`") {
      const { value, end } = quoted(lines, i, rest.slice(1), q, where);
      out.push({ key, value: Secret.fromString(value), where });
      i = end;
      continue;
    }
    const comment = /[ \t]#/.exec(raw);
    const value = (comment === null ? raw : raw.slice(0, comment.index)).replace(/^[ \t]+|[ \t]+$/g, "");
    out.push({ key, value: Secret.fromString(value.replaceAll("\\n", "\n")), where });
  }
  return out;
}

/** A flat JSON object of strings. */
export function parseJsonEntries(bytes: Uint8Array): SourceEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text(bytes, "json"));
  } catch (e) {
    if (e instanceof CofferError) throw e;
    throw new CofferError("INVALID_INPUT", "json: not valid JSON", { field: "content" });
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    throw new CofferError("INVALID_INPUT", 'json: must be an object of KEY: "value"', { field: "content" });
  return Object.entries(doc).map(([key, v]) => {
    const where = `key ${JSON.stringify(key)}`;
    if (typeof v !== "string") throw bad(where, "value must be a string (quote numbers and booleans; nested objects are not imported)");
    return { key, value: Secret.fromString(v), where };
  });
}

/** A flat YAML map; scalars are read as text exactly as written (failsafe schema: `8080`, `true` stay text). */
export function parseYamlEntries(bytes: Uint8Array): SourceEntry[] {
  const lines = new LineCounter();
  const doc = parseYamlDocument(text(bytes, "yaml"), { schema: "failsafe", lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const err = doc.errors[0];
  if (err !== undefined) {
    const at = lines.linePos(err.pos[0]);
    throw bad(`line ${String(at.line)}`, `not valid YAML (${err.code})`);
  }
  if (doc.contents === null) return [];
  if (!isMap(doc.contents)) throw new CofferError("INVALID_INPUT", "yaml: must be a map of KEY: value", { field: "content" });
  return doc.contents.items.map((pair) => {
    const line = isScalar(pair.key) ? lines.linePos(pair.key.range[0]).line : 0;
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    const where = `line ${String(line)} (key ${JSON.stringify(key)})`;
    if (!isScalar(pair.key)) throw bad(where, "keys must be plain names");
    if (pair.value === null) return { key, value: Secret.fromString(""), where };
    if (!isScalar(pair.value) || typeof pair.value.value !== "string")
      throw bad(where, "value must be a scalar (nested maps and lists are not imported)");
    return { key, value: Secret.fromString(pair.value.value), where };
  });
}

function sopsFormat(path: string | null, t: string): FileFormat {
  if (path !== null) {
    const f = formatFromPath(path);
    if (f !== "binary") return f;
  }
  if (/^sops_(?:version|mac|lastmodified)=/m.test(t)) return "dotenv";
  return /^\s*\{/.test(t) ? "json" : "yaml";
}

async function sopsEntries(bytes: Uint8Array, opts: ReadOptions): Promise<SourceEntry[]> {
  const format = sopsFormat(opts.path, new TextDecoder().decode(bytes));
  if (opts.identities.length === 0)
    throw new CofferError("KEY_NOT_FOUND", "a SOPS file needs an age identity (--identity, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY)");
  const opened = await openFile(bytes, format, [...opts.identities], { ignoreMac: false });
  opened.dataKey.fill(0);
  const { env, skipped } = envFromDocument(opened.doc);
  if (skipped.length > 0)
    throw bad(`key ${JSON.stringify(skipped[0])}`, "nested maps and lists are not imported; only top-level values are");
  return [...env].map(([key, v]) => ({ key, value: Secret.fromString(v), where: `key ${JSON.stringify(key)}` }));
}

/**
 * Reads secrets from a source, refusing plaintext formats unless allowed (before parsing them).
 * @throws CofferError PLAINTEXT_REFUSED, INVALID_INPUT (naming the line or key), DECRYPT_FAILED,
 * MAC_MISMATCH, KEY_NOT_FOUND, CIPHERTEXT_MALFORMED.
 */
export async function readImportSource(bytes: Uint8Array, format: ImportFormat, opts: ReadOptions): Promise<ImportSource> {
  if (PLAINTEXT.includes(format) && !opts.allowPlaintext)
    throw new CofferError(
      "PLAINTEXT_REFUSED",
      `plaintext input (${format}) is refused: encrypt it first (coffer file encrypt) or allow it explicitly (--allow-plaintext)`,
      { field: "allowPlaintext" },
    );
  switch (format) {
    case "dotenv":
      return { format, entries: parseDotenvEntries(bytes), manifest: null };
    case "json":
      return { format, entries: parseJsonEntries(bytes), manifest: null };
    case "yaml":
      return { format, entries: parseYamlEntries(bytes), manifest: null };
    case "sops":
      return { format, entries: await sopsEntries(bytes, opts), manifest: null };
    case "bundle": {
      const b = await openBundle(bytes, opts);
      const entries = b.entries.map((e) => ({ key: e.key, value: e.value, meta: e.meta, where: `key ${JSON.stringify(e.key)}` }));
      return { format, entries, manifest: b.manifest };
    }
  }
}
