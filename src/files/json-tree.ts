import { CofferError } from "../core/errors/index.ts";
import type { Scalar } from "./scalar-text.ts";

/**
 * A small ordered JSON reader and writer: JSON.parse would reorder integer-like keys and lose
 * the difference between `7` and `7.0`. Output follows Go's `json.Indent` as sops writes it
 * (`": "`, `<>&` escaped as `\u003c…`, a final newline).
 */
export type JsonNode =
  | { readonly k: "obj"; readonly entries: [string, JsonNode][] }
  | { readonly k: "arr"; readonly items: JsonNode[] }
  | { readonly k: "val"; s: Scalar | null };

const invalid = (at: number, text: string, rule: string): CofferError => {
  const line = text.slice(0, at).split("\n").length;
  return new CofferError("INVALID_INPUT", `line ${String(line)}: ${rule}`, { field: `line ${String(line)}` });
};

// eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

export function parseJson(text: string): JsonNode {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && " \t\r\n".includes(text[i] ?? "")) i++;
  };
  const str = (): string => {
    STRING.lastIndex = i;
    const m = STRING.exec(text);
    if (m === null) throw invalid(i, text, "not a valid JSON string");
    i += m[0].length;
    return JSON.parse(m[0]) as string;
  };
  const value = (): JsonNode => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const entries: [string, JsonNode][] = [];
      const seen = new Set<string>();
      ws();
      if (text[i] === "}") {
        i++;
        return { k: "obj", entries };
      }
      for (;;) {
        ws();
        const at = i;
        const key = str();
        if (seen.has(key)) throw invalid(at, text, `duplicate key "${key}"`);
        seen.add(key);
        ws();
        if (text[i++] !== ":") throw invalid(i - 1, text, "expected ':'");
        entries.push([key, value()]);
        ws();
        const d = text[i++];
        if (d === "}") return { k: "obj", entries };
        if (d !== ",") throw invalid(i - 1, text, "expected ',' or '}'");
      }
    }
    if (c === "[") {
      i++;
      const items: JsonNode[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return { k: "arr", items };
      }
      for (;;) {
        items.push(value());
        ws();
        const d = text[i++];
        if (d === "]") return { k: "arr", items };
        if (d !== ",") throw invalid(i - 1, text, "expected ',' or ']'");
      }
    }
    if (c === '"') return { k: "val", s: { kind: "str", value: str() } };
    for (const [word, s] of [
      ["true", { kind: "bool", value: true }],
      ["false", { kind: "bool", value: false }],
      ["null", null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return { k: "val", s };
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) throw invalid(i, text, "not a JSON value");
    i += m[0].length;
    const isInt = m[1] === undefined && m[2] === undefined;
    const big = isInt ? BigInt(m[0]) : 0n;
    if (isInt && big >= -(2n ** 63n) && big < 2n ** 63n) return { k: "val", s: { kind: "int", value: big } };
    return { k: "val", s: { kind: "float", value: Number(m[0]) } };
  };
  const root = value();
  ws();
  if (i !== text.length) throw invalid(i, text, "unexpected text after the JSON value");
  return root;
}

function quote(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function scalarText(s: Scalar | null): string {
  if (s === null) return "null";
  switch (s.kind) {
    case "str":
      return quote(s.value);
    case "int":
      return s.value.toString();
    case "float":
      return Number.isFinite(s.value) ? String(s.value) : "null";
    case "bool":
      return String(s.value);
  }
}

export function formatJson(node: JsonNode, indent: string, depth = 0): string {
  const pad = indent.repeat(depth + 1);
  const close = indent.repeat(depth);
  switch (node.k) {
    case "val":
      return scalarText(node.s);
    case "arr":
      if (node.items.length === 0) return "[]";
      return `[\n${node.items.map((n) => pad + formatJson(n, indent, depth + 1)).join(",\n")}\n${close}]`;
    case "obj":
      if (node.entries.length === 0) return "{}";
      return `{\n${node.entries.map(([k, v]) => `${pad}${quote(k)}: ${formatJson(v, indent, depth + 1)}`).join(",\n")}\n${close}}`;
  }
}

/** Plain data (metadata) → a JSON tree, keys in the given order. */
export function fromPlain(v: unknown): JsonNode {
  if (Array.isArray(v)) return { k: "arr", items: v.map(fromPlain) };
  if (typeof v === "object" && v !== null) return { k: "obj", entries: Object.entries(v).map(([k, x]) => [k, fromPlain(x)]) };
  if (typeof v === "string") return { k: "val", s: { kind: "str", value: v } };
  if (typeof v === "boolean") return { k: "val", s: { kind: "bool", value: v } };
  if (typeof v === "number") return { k: "val", s: Number.isInteger(v) ? { kind: "int", value: BigInt(v) } : { kind: "float", value: v } };
  return { k: "val", s: null };
}

/** A JSON tree → plain data (metadata). */
export function toPlain(n: JsonNode): unknown {
  switch (n.k) {
    case "arr":
      return n.items.map(toPlain);
    case "obj":
      return Object.fromEntries(n.entries.map(([k, v]) => [k, toPlain(v)]));
    case "val":
      if (n.s === null) return null;
      return n.s.kind === "int" ? Number(n.s.value) : n.s.value;
  }
}
