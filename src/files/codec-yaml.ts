import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node as YamlNode, type Scalar } from "yaml";
import { CofferError } from "../core/errors/index.ts";
import type { Plain } from "./enc-value.ts";
import type { Leaf, SopsDocument } from "./leaf.ts";
import { plainToScalar, scalarToPlain } from "./scalar-text.ts";
import {
  emitDocument,
  emitKey,
  goParseInt,
  parseTimestamp,
  YAML_STYLE_FLOAT,
  type YComment,
  type YMap,
  type YNode,
  type YPair,
  type YScalar,
  type YSeq,
  type YVal,
} from "./yaml-emit.ts";

/**
 * YAML as sops reads and writes it (FORMAT.md §9). The `yaml` package parses (failsafe schema:
 * every scalar is text) and the plain scalars are typed with go-yaml v3's rules (`0x1F`, `017`,
 * `1_000` are ints, an unquoted date is a timestamp, `yes` is a string); the tree is sops's: maps
 * and lists of items where a comment is an item of its own, aliases expanded, line comments moved
 * before their entry. `yaml-emit.ts` writes it back as go-yaml does, so decrypted output is the
 * bytes `sops -d` prints. Every document of a multi-document file carries the same `sops` map.
 */
const utf8 = new TextDecoder();
const utf8Fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const ENC_COMMENT = /^ENC\[AES256_GCM,[^\]]*,type:comment\]$/;
const TAG = "tag:yaml.org,2002:";

const invalid = (where: string, rule: string): CofferError => new CofferError("INVALID_INPUT", `${where}: ${rule}`, { field: where });

/** go-yaml v3's `resolve` for a plain scalar. */
function resolvePlain(s: string, where: string): YScalar | null {
  switch (s) {
    case "":
    case "~":
    case "null":
    case "Null":
    case "NULL":
      return null;
    case "true":
    case "True":
    case "TRUE":
      return { kind: "bool", value: true };
    case "false":
    case "False":
    case "FALSE":
      return { kind: "bool", value: false };
    case ".nan":
    case ".NaN":
    case ".NAN":
      return { kind: "float", value: NaN };
    case ".inf":
    case ".Inf":
    case ".INF":
    case "+.inf":
    case "+.Inf":
    case "+.INF":
      return { kind: "float", value: Infinity };
    case "-.inf":
    case "-.Inf":
    case "-.INF":
      return { kind: "float", value: -Infinity };
  }
  if (!"+-.0123456789".includes(s[0] ?? "")) return { kind: "str", value: s };
  const ts = parseTimestamp(s);
  if (ts !== null) return { kind: "time", value: ts };
  const plain = s.replaceAll("_", "");
  const i = goParseInt(plain);
  if (i !== null && i >= INT64_MIN && i <= INT64_MAX) return { kind: "int", value: i };
  if (i !== null && i >= 0n && i <= UINT64_MAX)
    throw invalid(where, "an integer above 2^63-1 cannot be encrypted (sops refuses it too); quote it to keep it as text");
  if (YAML_STYLE_FLOAT.test(plain)) {
    if (/^[+-]?\d+$/.test(plain))
      throw invalid(
        where,
        "an integer beyond 64 bits would be stored as a float and lose digits (sops does that); quote it to keep it exact",
      );
    const f = Number(plain);
    if (Number.isFinite(f)) return { kind: "float", value: f };
  }
  return { kind: "str", value: s };
}

function taggedScalar(n: Scalar, tag: string, where: string): YScalar | null {
  const text = typeof n.value === "string" ? n.value : String(n.value);
  switch (tag) {
    case `${TAG}str`:
      return { kind: "str", value: text };
    case `${TAG}binary`: {
      // The parser decodes !!binary leniently; go-yaml uses base64.StdEncoding (padded, nothing else), as checked here.
      const source = (n as { source?: unknown }).source;
      const b64 = (typeof source === "string" ? source : text).replace(/\s+/g, "");
      if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw invalid(where, "a !!binary value is not valid base64");
      const bytes = n.value instanceof Uint8Array ? n.value : Buffer.from(b64, "base64");
      try {
        return { kind: "str", value: utf8Fatal.decode(bytes) };
      } catch {
        // Not UTF-8: kept as bytes, encrypted as a str (as sops does) and written back as !!binary.
        return { kind: "bin", value: Uint8Array.from(bytes) };
      }
    }
    case `${TAG}null`:
      return null;
    case `${TAG}bool`:
    case `${TAG}int`:
    case `${TAG}float`:
    case `${TAG}timestamp`: {
      const r = resolvePlain(text, where);
      const want = tag.slice(TAG.length);
      const kind = r === null ? "null" : r.kind === "time" ? "timestamp" : r.kind;
      if (kind === want) return r;
      if (want === "float" && r?.kind === "int") return { kind: "float", value: Number(r.value) };
      throw invalid(where, `'!!${want}' does not match the value`);
    }
    default:
      return { kind: "str", value: text };
  }
}

function scalarOf(n: Scalar, where: string): YScalar | null {
  const tag = n.tag;
  if (tag !== undefined && tag !== "!") return taggedScalar(n, tag, where);
  const text = typeof n.value === "string" ? n.value : String(n.value);
  return n.type === "PLAIN" ? resolvePlain(text, where) : { kind: "str", value: text };
}

type Escaped = { text: string; col: number };

/** Converts the `yaml` package's tree into sops's; comment columns come from the source lines. */
class Converter {
  private readonly columns = new Map<string, number[]>();
  doc: Document | null = null;
  constructor(source: string) {
    for (const line of source.split(/\r?\n/)) {
      const m = /^([ \t]*)#(.*)$/.exec(line);
      if (m === null) continue;
      const text = (m[2] ?? "").replace(/\r$/, "");
      const list = this.columns.get(text) ?? [];
      list.push((m[1] ?? "").length);
      this.columns.set(text, list);
    }
  }

  comments(text: string | null | undefined, out: (YComment | YNode | YPair)[]): void {
    if (typeof text !== "string") return;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      this.columns.get(line)?.shift();
      out.push({ t: "c", text: line });
    }
  }

  /** Trailing comments of a collection: those left of `col` belong to an outer level. */
  trailing(text: string | null | undefined, col: number, out: (YComment | YNode | YPair)[], escaped: Escaped[]): void {
    if (typeof text !== "string") return;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const c = this.columns.get(line)?.shift() ?? col;
      if (c < col || escaped.length > 0) escaped.push({ text: line, col: c });
      else out.push({ t: "c", text: line });
    }
  }

  node(n: unknown, path: readonly string[], col: number, seen: number, inSeq = false): { node: YNode; escaped: Escaped[] } {
    const where = path.join(".") || "(top level)";
    if (isAlias(n)) {
      if (seen > 64) throw invalid(where, "YAML aliases nested too deeply");
      if (this.doc === null) throw invalid(where, "unresolved alias");
      return this.node(n.resolve(this.doc), path, col, seen + 1, inSeq);
    }
    if (isMap(n)) return this.map(n, path, seen, inSeq);
    if (isSeq(n)) {
      const items: (YComment | YNode)[] = [];
      const escaped: Escaped[] = [];
      const myCol = this.colOf(n as YamlNode, col);
      if (!inSeq) this.comments(n.commentBefore, items);
      for (const item of n.items) {
        // A comment above an item belongs to the list, also when the item is a map or a list.
        if (item !== null && typeof item === "object") this.comments((item as Scalar).commentBefore, items);
        if (isScalar(item) || isAlias(item)) this.comments((item as Scalar).comment, items);
        if (isScalar(item) && item.type === "PLAIN" && typeof item.value === "string" && ENC_COMMENT.test(item.value)) {
          items.push({ t: "c", text: item.value });
          continue;
        }
        const r = this.node(item, path, myCol, seen, true);
        items.push(r.node);
        for (const e of r.escaped) {
          if (e.col >= myCol && escaped.length === 0) items.push({ t: "c", text: e.text });
          else escaped.push(e);
        }
      }
      this.trailing(n.comment, myCol, items, escaped);
      return { node: { t: "q", items }, escaped };
    }
    if (isScalar(n)) return { node: { t: "s", s: scalarOf(n, where) }, escaped: [] };
    if (n === null || n === undefined) return { node: { t: "s", s: null }, escaped: [] };
    throw invalid(where, "unsupported YAML node");
  }

  private colOf(n: YamlNode, fallback: number): number {
    const start = n.range?.[0];
    return start === undefined ? fallback : this.col(start, fallback);
  }

  lines: LineCounter | null = null;
  private col(offset: number, fallback: number): number {
    if (this.lines === null) return fallback;
    return this.lines.linePos(offset).col - 1;
  }

  map(n: unknown, path: readonly string[], seen: number, inSeq = false): { node: YMap; escaped: Escaped[] } {
    const items: (YComment | YPair)[] = [];
    const escaped: Escaped[] = [];
    if (!isMap(n)) return { node: { t: "m", items }, escaped };
    const myCol = this.colOf(n, 0);
    if (!inSeq) this.comments(n.commentBefore, items);
    for (const pair of n.items) {
      const key = pair.key;
      if (!isScalar(key)) throw invalid(path.join(".") || "(top level)", "every map key must be a scalar");
      const keySource = typeof key.value === "string" ? key.value : typeof key.value === "symbol" ? "<<" : String(key.value);
      const resolved = key.type === "PLAIN" && key.tag === undefined ? resolvePlain(keySource, keySource) : undefined;
      const name =
        resolved === undefined || resolved === null || resolved.kind === "str"
          ? keySource
          : resolved.kind === "int"
            ? resolved.value.toString()
            : keySource;
      this.comments(key.commentBefore, items);
      this.comments(key.comment, items);
      const value = pair.value;
      if (isScalar(value) || isAlias(value)) {
        this.comments((value as Scalar).commentBefore, items);
        this.comments((value as Scalar).comment, items);
      }
      const r = this.node(value, [...path, name], myCol, seen);
      items.push({ t: "p", key: name, keyText: emitKey(name, resolved), v: r.node });
      for (const e of r.escaped) {
        if (e.col >= myCol && escaped.length === 0) items.push({ t: "c", text: e.text });
        else escaped.push(e);
      }
    }
    this.trailing(n.comment, myCol, items, escaped);
    return { node: { t: "m", items }, escaped };
  }
}

function ymapOf(v: unknown): YNode {
  if (Array.isArray(v)) return { t: "q", items: v.map(ymapOf) };
  if (typeof v === "object" && v !== null) {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return { t: "m", items: entries.map(([k, x]) => ({ t: "p", key: k, keyText: emitKey(k, undefined), v: ymapOf(x) })) };
  }
  if (typeof v === "string") return { t: "s", s: { kind: "str", value: v } };
  if (typeof v === "boolean") return { t: "s", s: { kind: "bool", value: v } };
  if (typeof v === "number") return { t: "s", s: Number.isInteger(v) ? { kind: "int", value: BigInt(v) } : { kind: "float", value: v } };
  return { t: "s", s: null };
}

function toPlainData(n: YNode): unknown {
  if (n.t === "s") {
    const s = n.s;
    if (s === null) return null;
    if (s.kind === "int") return Number(s.value);
    if (s.kind === "bin") return Buffer.from(s.value).toString("base64");
    return s.value;
  }
  if (n.t === "q") return n.items.filter((i): i is YNode => i.t !== "c").map(toPlainData);
  const out: Record<string, unknown> = {};
  for (const i of n.items) if (i.t === "p") out[i.key] = toPlainData(i.v);
  return out;
}

function plainToY(p: Plain, where: string): YScalar {
  if (p.type === "time") return { kind: "time", value: utf8Fatal.decode(p.bytes) };
  if (p.type === "str") {
    try {
      return { kind: "str", value: utf8Fatal.decode(p.bytes) };
    } catch {
      return { kind: "bin", value: p.bytes };
    }
  }
  const s = plainToScalar(p, where);
  return s;
}

function valueLeaf(node: YVal, path: readonly string[]): Leaf {
  const where = path.join(".") || "(top level)";
  return {
    kind: "value",
    path,
    read: () => {
      const s = node.s;
      if (s === null) return null;
      if (s.kind === "time") return { type: "time", bytes: new TextEncoder().encode(s.value) };
      if (s.kind === "bin") return { type: "str", bytes: s.value };
      return scalarToPlain(s);
    },
    stored: () => (node.s?.kind === "str" ? node.s.value : null),
    writeEncrypted: (text) => {
      node.s = { kind: "str", value: text };
    },
    writePlain: (p) => {
      node.s = plainToY(p, where);
    },
  };
}

function commentLeaf(c: YComment, path: readonly string[]): Leaf {
  return {
    kind: "comment",
    path,
    read: () => ({ type: "comment", bytes: new TextEncoder().encode(c.text) }),
    stored: () => c.text,
    writeEncrypted: (enc) => {
      c.text = enc;
    },
    writePlain: (p) => {
      c.text = utf8Fatal.decode(p.bytes);
    },
  };
}

function walk(node: YNode, path: readonly string[], out: Leaf[]): void {
  if (node.t === "s") {
    out.push(valueLeaf(node, path));
    return;
  }
  for (const item of node.items) {
    if (item.t === "c") out.push(commentLeaf(item, path));
    else if (item.t === "p") walk(item.v, [...path, item.key], out);
    else walk(item, path, out);
  }
}

/** @throws CofferError INVALID_INPUT naming the line of a syntax error, or the key path. */
export function parseYaml(bytes: Uint8Array, indent = 4): SopsDocument {
  const source = utf8.decode(bytes);
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(source, { schema: "failsafe", uniqueKeys: true, prettyErrors: true, lineCounter });
  const docs: Document[] = Array.isArray(parsed) ? (parsed as Document[]) : [];
  for (const d of docs) {
    const err = d.errors[0];
    if (err !== undefined) {
      const line = err.linePos?.[0].line;
      throw invalid(line === undefined ? "yaml" : `line ${String(line)}`, `not valid YAML (${err.code})`);
    }
  }
  let metadata: Record<string, unknown> | null = null;
  const conv = new Converter(source);
  conv.lines = lineCounter;
  const roots: YMap[] = docs.map((d, i) => {
    conv.doc = d;
    const c = d.contents;
    const where = `document ${String(i + 1)}`;
    if (c !== null && !isMap(c)) {
      if (isScalar(c) && scalarOf(c, where) === null) {
        const items: YComment[] = [];
        conv.comments(d.commentBefore, items);
        conv.comments(c.commentBefore, items);
        conv.comments(c.comment, items);
        conv.comments(d.comment, items);
        return { t: "m", items };
      }
      throw invalid(where, isSeq(c) ? "a top-level list is not supported (sops refuses it too)" : "the top level must be a map");
    }
    const top: (YComment | YPair)[] = [];
    conv.comments(d.commentBefore, top);
    const body = conv.map(c, [], 0);
    const items = [...top, ...body.node.items];
    for (const e of body.escaped) items.push({ t: "c", text: e.text });
    conv.comments(d.comment, items);
    const at = items.findIndex((x) => x.t === "p" && x.key === "sops");
    if (at !== -1) {
      const sops = items.splice(at, 1)[0] as YPair;
      if (metadata === null) metadata = toPlainData(sops.v) as Record<string, unknown>;
    }
    return { t: "m", items };
  });
  if (roots.length === 0) roots.push({ t: "m", items: [] });
  let meta: Readonly<Record<string, unknown>> | null = null;
  return {
    metadata,
    leaves() {
      const out: Leaf[] = [];
      for (const r of roots) walk(r, [], out);
      return out;
    },
    setMetadata(m) {
      meta = m;
    },
    serialize() {
      const sops = meta === null ? null : ymapOf(meta);
      const parts = roots.map((r) =>
        emitDocument(sops === null ? r : { t: "m", items: [...r.items, { t: "p", key: "sops", keyText: "sops", v: sops }] }, indent),
      );
      return new TextEncoder().encode(parts.join("---\n"));
    },
  };
}

export type { YSeq };
