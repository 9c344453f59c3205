/**
 * The YAML text sops writes: go-yaml v3's emitter as sops drives it (block style, `indent`
 * spaces, no line folding, Unicode kept), reproduced so `coffer file decrypt` prints the bytes
 * `sops -d` prints and an encrypted file looks like one sops wrote. Quoting follows go-yaml:
 * a string is plain unless it would read back as another type (YAML 1.1 booleans such as `yes`
 * and `on`, dates, numbers, `null`) or plain is not allowed (leading space, `: `, ` #`, an
 * indicator first); then single quotes, or double quotes with escapes when single ones cannot
 * carry it (tabs, control or non-printable characters, a leading U+FEFF).
 */
export type YScalar =
  | { readonly kind: "str"; readonly value: string }
  | { readonly kind: "int"; readonly value: bigint }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "time"; readonly value: string }
  /** A string that is not UTF-8 (from `!!binary`, or decrypted so): go-yaml writes it as `!!binary <base64>`. */
  | { readonly kind: "bin"; readonly value: Uint8Array };
export type YComment = { readonly t: "c"; text: string };
export type YVal = { readonly t: "s"; s: YScalar | null };
export type YPair = { readonly t: "p"; readonly key: string; readonly keyText: string; v: YNode };
export type YMap = { readonly t: "m"; readonly items: (YComment | YPair)[] };
export type YSeq = { readonly t: "q"; readonly items: (YComment | YNode)[] };
export type YNode = YVal | YMap | YSeq;

const OLD_BOOL = new Set(["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"]);
const RESOLVE_MAP = new Set([
  "true",
  "True",
  "TRUE",
  "false",
  "False",
  "FALSE",
  "",
  "~",
  "null",
  "Null",
  "NULL",
  ".nan",
  ".NaN",
  ".NAN",
  ".inf",
  ".Inf",
  ".INF",
  "+.inf",
  "+.Inf",
  "+.INF",
  "-.inf",
  "-.Inf",
  "-.INF",
  "<<",
]);
const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
export const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

/** Go's `strconv.ParseInt(s, 0, …)` syntax (sign, 0x / 0o / 0b / leading-0 octal), unbounded. */
export function goParseInt(s: string): bigint | null {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (m === null) return null;
  const body = m[2] ?? "";
  const v = /^0[xXbBoO]/.test(body)
    ? BigInt(`0${(body[1] ?? "").toLowerCase()}${body.slice(2)}`)
    : body.length > 1 && body.startsWith("0")
      ? BigInt(`0o${body.slice(1)}`)
      : BigInt(body);
  return m[1] === "-" ? -v : v;
}

const TS = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:([Tt])|[ \t]+)(\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** go-yaml's timestamp forms, as Go's RFC 3339 (nanosecond) text; `null` when it is not one. */
export function parseTimestamp(s: string): string | null {
  const m = TS.exec(s);
  if (m === null) return null;
  const [, y = "", mo = "", d = "", t, hh, mi, ss, frac, zone] = m;
  if (t !== undefined && zone === undefined) return null;
  if (t === undefined && hh !== undefined && zone !== undefined) return null;
  const p2 = (x: string | undefined): string => (x ?? "0").padStart(2, "0");
  const month = Number(mo);
  const day = Number(d);
  const days = new Date(Date.UTC(Number(y), month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > days) return null;
  if (Number(hh ?? 0) > 23 || Number(mi ?? 0) > 59 || Number(ss ?? 0) > 59) return null;
  const fraction = (frac ?? "").slice(0, 10).replace(/\.?0+$/, "");
  const z = zone === undefined || zone === "Z" || zone === "+00:00" ? "Z" : zone;
  return `${y}-${p2(mo)}-${p2(d)}T${p2(hh)}:${p2(mi)}:${p2(ss)}${fraction}${z}`;
}

/** Whether go-yaml would read `s`, written plain, as something other than a string. */
function resolvesToNonString(s: string): boolean {
  if (RESOLVE_MAP.has(s)) return true;
  const c = s[0] ?? "";
  if (!"+-.0123456789".includes(c)) return false;
  if (parseTimestamp(s) !== null) return true;
  const plain = s.replaceAll("_", "");
  if (goParseInt(plain) !== null) return true;
  return YAML_STYLE_FLOAT.test(plain);
}

/** Go `strconv.FormatFloat(v, 'g', -1, 64)` as go-yaml writes it (`.inf`, `-.inf`, `.nan`). */
export function formatFloatG(v: number): string {
  if (Number.isNaN(v)) return ".nan";
  if (!Number.isFinite(v)) return v > 0 ? ".inf" : "-.inf";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(v.toExponential());
  if (m === null) return String(v);
  const [, sign = "", lead = "", frac = "", expText = "0"] = m;
  const exp = Number(expText);
  const digits = lead + frac;
  if (exp < -4 || exp >= 21 || exp >= 6) {
    const e = Math.abs(exp);
    return `${sign}${lead}${frac === "" ? "" : `.${frac}`}e${exp < 0 ? "-" : "+"}${e < 10 ? `0${String(e)}` : String(e)}`;
  }
  const point = exp + 1;
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + "0".repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

type Analysis = {
  multiline: boolean;
  blockPlain: boolean;
  singleQuoted: boolean;
  block: boolean;
};

function isPrintable(cp: number): boolean {
  return (
    cp === 0x0a ||
    (cp >= 0x20 && cp <= 0x7e) ||
    (cp >= 0xa0 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}
const isBreak = (cp: number): boolean => cp === 0x0a || cp === 0x0d || cp === 0x85 || cp === 0x2028 || cp === 0x2029;

/** go-yaml's `yaml_emitter_analyze_scalar`, block context. */
function analyze(value: string): Analysis {
  const a: Analysis = { multiline: false, blockPlain: true, singleQuoted: true, block: true };
  if (value === "") {
    a.blockPlain = false;
    a.block = false;
    return a;
  }
  let blockIndicators = value.startsWith("---") || value.startsWith("...");
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let tabs = false;
  let special = false;
  let lineBreaks = false;
  let prevSpace = false;
  let prevBreak = false;
  let precededByWs = true;
  const cps = Array.from(value, (ch) => ch.codePointAt(0) ?? 0);
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i] ?? 0;
    const next = cps[i + 1];
    const followedByWs = next === undefined || next === 0x20 || next === 0x09 || isBreak(next);
    const ch = String.fromCodePoint(cp);
    if (i === 0) {
      if ("#,[]{}&*!|>'\"%@`".includes(ch)) blockIndicators = true;
      else if ((ch === "?" || ch === ":" || ch === "-") && followedByWs) blockIndicators = true;
    } else if (ch === ":" && followedByWs) blockIndicators = true;
    else if (ch === "#" && precededByWs) blockIndicators = true;
    if (cp === 0x09) tabs = true;
    else if (!isPrintable(cp)) special = true;
    if (cp === 0x20) {
      if (i === 0) leadingSpace = true;
      if (i === cps.length - 1) trailingSpace = true;
      if (prevBreak) breakSpace = true;
      prevSpace = true;
      prevBreak = false;
    } else if (isBreak(cp)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === cps.length - 1) trailingBreak = true;
      if (prevSpace) spaceBreak = true;
      prevSpace = false;
      prevBreak = true;
    } else {
      prevSpace = false;
      prevBreak = false;
    }
    precededByWs = cp === 0x20 || cp === 0x09 || isBreak(cp);
  }
  // go-yaml's is_bom looks at the first three bytes of the value whatever the position: a value
  // that starts with U+FEFF has every character escaped in double quotes.
  if (cps[0] === 0xfeff) special = true;
  a.multiline = lineBreaks;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) a.blockPlain = false;
  if (trailingSpace) a.block = false;
  if (breakSpace) {
    a.blockPlain = false;
    a.singleQuoted = false;
  }
  if (spaceBreak || tabs || special) {
    a.blockPlain = false;
    a.singleQuoted = false;
  }
  if (spaceBreak || special) a.block = false;
  if (lineBreaks) a.blockPlain = false;
  if (blockIndicators) a.blockPlain = false;
  return a;
}

const ESCAPES: Record<number, string> = {
  0x00: "0",
  0x07: "a",
  0x08: "b",
  0x09: "t",
  0x0a: "n",
  0x0b: "v",
  0x0c: "f",
  0x0d: "r",
  0x1b: "e",
  0x22: '"',
  0x5c: "\\",
  0x85: "N",
  0xa0: "_",
  0x2028: "L",
  0x2029: "P",
};

function doubleQuoted(value: string): string {
  const bomFirst = value.codePointAt(0) === 0xfeff;
  let out = '"';
  for (const ch of value) {
    const cp = ch.codePointAt(0) ?? 0;
    if (bomFirst || !isPrintable(cp) || cp === 0xfeff || isBreak(cp) || cp === 0x22 || cp === 0x5c) {
      const e = ESCAPES[cp];
      if (e !== undefined) out += `\\${e}`;
      else {
        const hex = cp.toString(16).toUpperCase();
        out += cp <= 0xff ? `\\x${hex.padStart(2, "0")}` : cp <= 0xffff ? `\\u${hex.padStart(4, "0")}` : `\\U${hex.padStart(8, "0")}`;
      }
    } else out += ch;
  }
  return `${out}"`;
}

function literal(value: string, indent: number, best: number): string {
  const pad = " ".repeat(indent);
  let hints = "";
  if (value.startsWith(" ") || value.startsWith("\n")) hints += String(best);
  if (!value.endsWith("\n")) hints += "-";
  else if (value.length === 1 || value.endsWith("\n\n")) hints += "+";
  const body = value.endsWith("\n") ? value.slice(0, -1) : value;
  const lines = body.split("\n").map((l) => (l === "" ? "" : pad + l));
  return `|${hints}\n${lines.join("\n")}`;
}

/** A string as go-yaml's encoder writes it; `indent` is where a literal block's lines start. */
export function emitString(value: string, indent: number, simpleKey: boolean, best = 4): string {
  const a = analyze(value);
  if (value.includes("\n")) {
    if (a.block && !simpleKey) return literal(value, indent, best);
    return doubleQuoted(value);
  }
  const canUsePlain = !resolvesToNonString(value) && !BASE60_FLOAT.test(value) && !OLD_BOOL.has(value);
  if (!canUsePlain) return doubleQuoted(value);
  if (a.blockPlain && !(simpleKey && a.multiline)) return value;
  if (a.singleQuoted) return `'${value.replaceAll("'", "''")}'`;
  return doubleQuoted(value);
}

function emitScalar(s: YScalar | null, indent: number, best = 4): string {
  if (s === null) return "null";
  switch (s.kind) {
    case "str":
      return emitString(s.value, indent, false, best);
    case "int":
      return s.value.toString();
    case "float":
      return formatFloatG(s.value);
    case "bool":
      return s.value ? "true" : "false";
    case "time":
      return s.value;
    case "bin":
      return `!!binary ${emitString(goBase64(s.value), indent, false, best)}`;
  }
}

/** go-yaml's encodeBase64: standard base64, and when 70 characters or more, 70 per line, each ending in a line break. */
function goBase64(bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString("base64");
  if (b64.length < 70) return b64;
  let out = "";
  for (let i = 0; i < b64.length; i += 70) out += `${b64.slice(i, i + 70)}\n`;
  return out;
}

/** go-yaml v3's indentation step: a sequence item's content skips `- `, the rest aligns to `best`. */
function deeper(indent: number, best: number, inSeqItem: boolean): number {
  return inSeqItem ? indent + 2 : best * Math.floor((indent + best) / best);
}

function isEmpty(n: YNode): boolean {
  return (n.t === "m" || n.t === "q") && !n.items.some((i) => i.t !== "c");
}

/**
 * Writes `node` whose first line continues the current one (after `key:` or `- `). `col` is the
 * column where a map or sequence placed on the same line starts, `indent` go-yaml's indent there.
 */
function emitValue(out: string[], node: YNode, indent: number, best: number, inSeqItem: boolean): void {
  if (node.t === "s") {
    out.push(` ${emitScalar(node.s, deeper(indent, best, inSeqItem), best)}\n`);
    return;
  }
  if (isEmpty(node)) {
    out.push(node.t === "m" ? " {}\n" : " []\n");
    for (const i of node.items) if (i.t === "c") out.push(`${" ".repeat(deeper(indent, best, inSeqItem))}#${i.text}\n`);
    return;
  }
  out.push("\n");
  emitBlock(out, node, deeper(indent, best, inSeqItem), best, false);
}

/** Writes a map or sequence whose lines start at `indent`; `inline` when its first line follows `- `. */
function emitBlock(out: string[], node: YMap | YSeq, indent: number, best: number, inline: boolean): void {
  const pad = " ".repeat(indent);
  let first = inline;
  const lead = (): string => {
    if (first) {
      first = false;
      return "";
    }
    return pad;
  };
  for (const item of node.items) {
    if (item.t === "c") {
      if (first) {
        out.push(`#${item.text}\n`);
        first = false;
      } else out.push(`${pad}#${item.text}\n`);
      continue;
    }
    if (node.t === "m") {
      const p = item as YPair;
      // go-yaml's check_simple_key: a key with a line break or longer than 128 bytes is written as `? key` / `: value`.
      if (p.keyText !== "!!merge <<" && (p.key.includes("\n") || Buffer.byteLength(p.key) > 128) && isStringKey(p)) {
        out.push(`${lead()}? ${emitString(p.key, deeper(indent, best, false), false, best)}\n${pad}:`);
      } else out.push(`${lead()}${p.keyText}:`);
      emitValue(out, p.v, indent, best, false);
    } else {
      const n = item as YNode;
      out.push(`${lead()}-`);
      if (n.t === "s" || isEmpty(n)) emitValue(out, n, indent, best, true);
      else {
        out.push(" ");
        emitBlock(out, n, indent + 2, best, true);
      }
    }
  }
}

/** Whether the key was written as a string (plain or quoted), not as an int, bool, null or timestamp. */
function isStringKey(p: YPair): boolean {
  return p.keyText === p.key || p.keyText.startsWith('"') || p.keyText.startsWith("'");
}

/** One document's top-level map as go-yaml writes it (`{}` when empty). */
export function emitDocument(root: YMap, best: number): string {
  if (!root.items.some((i) => i.t !== "c")) {
    const comments = root.items.map((i) => `#${(i as YComment).text}\n`).join("");
    return `${comments}{}\n`;
  }
  const out: string[] = [];
  emitBlock(out, root, 0, best, false);
  return out.join("");
}

/** A key: plain when go-yaml would write it so, quoted otherwise; `<<` is the merge key. */
export function emitKey(key: string, resolved: YScalar | null | undefined): string {
  if (key === "<<") return "!!merge <<";
  if (resolved !== undefined && resolved !== null && resolved.kind !== "str") return emitScalar(resolved, 0);
  if (resolved === null) return "null";
  return emitString(key, 0, true);
}
