import { Document, isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments, Scalar, type Node as YamlNode } from "yaml";
import { CofferError } from "../core/errors/index.ts";
import type { Plain } from "./enc-value.ts";
import type { Leaf, SopsDocument } from "./leaf.ts";
import { plainToScalar, scalarToPlain, type Scalar as SopsScalar } from "./scalar-text.ts";

/**
 * YAML through the `yaml` package's Document API, edited in place: key order, comments and
 * layout survive an encrypt → edit → encrypt cycle. Every document of a multi-document file is a
 * branch and gets the same `sops` map (FORMAT.md §9). Comment lines are leaves too (sops
 * encrypts them as `#ENC[…,type:comment]`), with the path of their enclosing map or list.
 */
type CommentHost = { commentBefore?: string | null; comment?: string | null };
const utf8 = new TextDecoder();

const invalid = (where: string, rule: string): CofferError => new CofferError("INVALID_INPUT", `${where}: ${rule}`, { field: where });

function nativeToScalar(v: unknown, where: string): SopsScalar | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return { kind: "str", value: v };
  if (typeof v === "bigint") return { kind: "int", value: v };
  // Parsed with intAsBigInt: integers are bigint, so every number is a float (`7.0`, `3.14`).
  if (typeof v === "number") return { kind: "float", value: v };
  if (typeof v === "boolean") return { kind: "bool", value: v };
  throw invalid(where, "unsupported YAML value");
}

function scalarNode(node: Scalar, path: readonly string[]): Leaf {
  const where = path.join(".") || "(top level)";
  return {
    kind: "value",
    path,
    read: () => {
      const s = nativeToScalar(node.value, where);
      return s === null ? null : scalarToPlain(s);
    },
    stored: () => (typeof node.value === "string" ? node.value : null),
    writeEncrypted: (text) => {
      node.value = text;
      delete node.type;
      delete node.format;
    },
    writePlain: (p: Plain) => {
      const s = plainToScalar(p, where);
      node.value = s.value;
      delete node.type;
      if (s.kind === "float" && Number.isInteger(s.value)) node.minFractionDigits = 1;
    },
  };
}

function commentLeaves(host: CommentHost, field: "commentBefore" | "comment", path: readonly string[], out: Leaf[]): void {
  const text = host[field];
  if (typeof text !== "string" || text === "") return;
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    if (line === "") return;
    out.push({
      kind: "comment",
      path,
      read: () => ({ type: "comment", bytes: new TextEncoder().encode(lines[i]) }),
      stored: () => lines[i] ?? null,
      writeEncrypted: (enc) => {
        lines[i] = enc;
        host[field] = lines.join("\n");
      },
      writePlain: (p) => {
        lines[i] = utf8.decode(p.bytes);
        host[field] = lines.join("\n");
      },
    });
  });
}

function walk(node: unknown, path: readonly string[], out: Leaf[]): void {
  const where = path.join(".") || "(top level)";
  if (isAlias(node)) throw invalid(where, "YAML aliases are not supported; write the value out");
  if (isScalar(node)) {
    commentLeaves(node, "commentBefore", path.slice(0, -1), out);
    out.push(scalarNode(node, path));
    commentLeaves(node, "comment", path.slice(0, -1), out);
    return;
  }
  if (isMap(node)) {
    commentLeaves(node, "commentBefore", path, out);
    for (const pair of node.items) {
      if (!isScalar(pair.key) || typeof pair.key.value !== "string")
        throw invalid(where, "every map key must be a string (quote numeric or boolean keys)");
      commentLeaves(pair.key, "commentBefore", path, out);
      commentLeaves(pair.key, "comment", path, out);
      walk(pair.value, [...path, pair.key.value], out);
    }
    commentLeaves(node, "comment", path, out);
    return;
  }
  if (isSeq(node)) {
    commentLeaves(node, "commentBefore", path, out);
    for (const item of node.items) {
      if (isScalar(item)) {
        commentLeaves(item, "commentBefore", path, out);
        out.push(scalarNode(item, path));
        commentLeaves(item, "comment", path, out);
      } else walk(item, path, out);
    }
    commentLeaves(node, "comment", path, out);
    return;
  }
  if (node === null || node === undefined) return;
  if (isPair(node)) throw invalid(where, "unexpected YAML pair");
}

function toYamlNode(doc: Document, raw: Readonly<Record<string, unknown>>): YamlNode {
  const node = doc.createNode(raw) as YamlNode;
  const mark = (n: unknown): void => {
    if (isMap(n)) {
      for (const p of n.items) {
        if (isScalar(p.key) && p.key.value === "enc" && isScalar(p.value)) p.value.type = Scalar.BLOCK_LITERAL;
        else if (isScalar(p.key) && p.key.value === "lastmodified" && isScalar(p.value)) p.value.type = Scalar.QUOTE_DOUBLE;
        mark(p.value);
      }
    } else if (isSeq(n)) n.items.forEach(mark);
  };
  mark(node);
  return node;
}

/** @throws CofferError INVALID_INPUT naming the line of a syntax error, or the key path. */
export function parseYaml(bytes: Uint8Array, indent = 4): SopsDocument {
  const parsed = parseAllDocuments(utf8.decode(bytes), { intAsBigInt: true, uniqueKeys: true, prettyErrors: true });
  // An empty stream parses to an empty list of documents.
  const docs: Document[] = Array.isArray(parsed) ? (parsed as Document[]) : [];
  for (const d of docs) {
    const err = d.errors[0];
    if (err !== undefined) {
      const line = err.linePos?.[0].line;
      throw invalid(line === undefined ? "yaml" : `line ${String(line)}`, `not valid YAML (${err.code})`);
    }
  }
  if (docs.length === 0) docs.push(new Document({}));
  let metadata: Record<string, unknown> | null = null;
  docs.forEach((d, i) => {
    if (d.contents !== null && !isMap(d.contents)) throw invalid(`document ${String(i + 1)}`, "the top level must be a map");
    if (isMap(d.contents) && d.contents.has("sops")) {
      if (i === 0) metadata = (d.contents.get("sops", true) as YamlNode).toJSON() as Record<string, unknown>;
      d.contents.delete("sops");
    }
  });
  let meta: Readonly<Record<string, unknown>> | null = null;
  return {
    metadata,
    leaves() {
      const out: Leaf[] = [];
      for (const d of docs) {
        commentLeaves(d, "commentBefore", [], out);
        walk(d.contents, [], out);
        commentLeaves(d, "comment", [], out);
      }
      return out;
    },
    setMetadata(m) {
      meta = m;
    },
    serialize() {
      const parts = docs.map((d) => {
        if (meta !== null) {
          if (d.contents === null) d.contents = d.createNode({});
          if (isMap(d.contents)) d.contents.set("sops", toYamlNode(d, meta));
        }
        const text = d.toString({ indent, indentSeq: true, lineWidth: 0, minContentWidth: 0 });
        if (isMap(d.contents)) d.contents.delete("sops");
        return text;
      });
      return new TextEncoder().encode(parts.join(docs.length > 1 ? "---\n" : ""));
    },
  };
}
