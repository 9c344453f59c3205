import { lazySchema } from "../../../model/index.ts";
import { CofferError, isCofferError } from "../../../errors/index.ts";

/**
 * Reading a legacy listing (CSV with the header `owner,key,value`, or a JSON array of
 * `{ owner, key, value }`), keeping the line each row starts on for error messages. Messages
 * never quote a value.
 */
export type RawRow = { readonly line: number; readonly owner: string; readonly key: string; readonly value: string };

const HEADER = ["owner", "key", "value"];
const JsonRow = lazySchema((z) => z.strictObject({ owner: z.string(), key: z.string(), value: z.string() }));

/** Prefixes a CofferError with the listing line it is about (messages never quote values). */
export function withLine(line: number, e: unknown): unknown {
  if (!isCofferError(e)) return e;
  return new CofferError(e.code, `line ${String(line)}: ${e.message}`, { ...e.details, line }, { cause: e });
}

export function badRow(line: number, rule: string): CofferError {
  return new CofferError("INVALID_INPUT", `line ${String(line)}: ${rule}`, { field: "legacy", line });
}

// One RFC 4180 field and what ends it: quoted ("" is a quote inside), or bare (no quote, comma, CR or LF).
const CSV_FIELD = /("(?:[^"]|"")*"|[^",\r\n]*)(,|\r?\n|$)/y;

/** CSV records with the line each starts on; blank lines are skipped. */
function csvRecords(text: string): { line: number; fields: string[] }[] {
  const out: { line: number; fields: string[] }[] = [];
  let [fields, line, start] = [[] as string[], 1, 1];
  for (CSV_FIELD.lastIndex = 0; CSV_FIELD.lastIndex < text.length;) {
    const m = CSV_FIELD.exec(text);
    if (m === null) throw badRow(line, 'a field is not quoted as RFC 4180 says (a quote opens a field; "" inside quotes)');
    const [, raw = "", end = ""] = m;
    fields.push(raw.startsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : raw);
    line += raw.split("\n").length - 1;
    if (end === ",") continue;
    if (fields.length > 1 || raw !== "") out.push({ line: start, fields });
    [fields, start] = [[], ++line];
  }
  if (fields.length > 0) out.push({ line: start, fields: [...fields, ""] }); // the text ended after a comma
  return out;
}

export function csvRows(text: string): RawRow[] {
  const [head, ...records] = csvRecords(text.replace(/^\uFEFF/, ""));
  if (head?.fields.length !== 3 || head.fields.some((f, i) => f !== HEADER[i])) {
    throw badRow(head?.line ?? 1, "the first line must be the header owner,key,value");
  }
  return records.map((r) => {
    if (r.fields.length !== 3) throw badRow(r.line, `expected 3 fields (owner,key,value), got ${String(r.fields.length)}`);
    const [owner = "", key = "", value = ""] = r.fields;
    return { line: r.line, owner, key, value };
  });
}

/** The line on which each top-level element of a JSON array starts (`text` is valid JSON). */
function elementLines(text: string): number[] {
  const lines: number[] = [];
  let [line, depth, inString, expect] = [1, 0, false, false]; // expect: the next token at depth 1 starts an element
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === "\n") line++;
    if (c === "\n" || c === " " || c === "\t" || c === "\r") continue;
    if (depth === 1 && expect) {
      lines.push(line);
      expect = false;
    }
    if (c === '"') inString = true;
    else if (c === "[" || c === "{") expect = ++depth === 1;
    else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 1) expect = true;
  }
  return lines;
}

export function jsonRows(text: string): RawRow[] {
  const shape = 'the legacy file must be a JSON array of { "owner", "key", "value" }';
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CofferError("INVALID_INPUT", `${shape}; it is not valid JSON`, { field: "legacy" }); // the parser's message quotes the text
  }
  if (!Array.isArray(json)) throw new CofferError("INVALID_INPUT", shape, { field: "legacy" });
  const lines = elementLines(text);
  return (json as unknown[]).map((item, i) => {
    const line = lines[i] ?? 1;
    const r = JsonRow.safeParse(item);
    if (!r.success) throw badRow(line, 'each entry must be { "owner", "key", "value" } with string values and nothing else');
    return { line, ...r.data };
  });
}
