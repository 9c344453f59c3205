import { CofferError } from "../core/errors/index.ts";
import type { Leaf, SopsDocument } from "./leaf.ts";
import { formatJson, fromPlain, parseJson, toPlain, type JsonNode } from "./json-tree.ts";
import { plainToScalar, scalarToPlain } from "./scalar-text.ts";

/**
 * JSON (FORMAT.md §9): the top level must be an object; key order is kept; output is indented
 * with a tab by default (sops), or `indent` spaces. Binary: the whole file is one string under
 * `data` (AAD `data:`), wrapped in the same JSON envelope; decrypting gives the bytes back.
 */
const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

function valueLeaf(node: Extract<JsonNode, { k: "val" }>, path: readonly string[]): Leaf {
  const where = path.join(".") || "(top level)";
  return {
    kind: "value",
    path,
    read: () => (node.s === null ? null : scalarToPlain(node.s)),
    stored: () => (node.s?.kind === "str" ? node.s.value : null),
    writeEncrypted: (text) => {
      node.s = { kind: "str", value: text };
    },
    writePlain: (p) => {
      node.s = plainToScalar(p, where);
    },
  };
}

function walk(node: JsonNode, path: readonly string[], out: Leaf[]): void {
  switch (node.k) {
    case "val":
      out.push(valueLeaf(node, path));
      return;
    case "arr":
      for (const item of node.items) walk(item, path, out);
      return;
    case "obj":
      for (const [k, v] of node.entries) walk(v, [...path, k], out);
  }
}

function splitMetadata(root: JsonNode): { body: Extract<JsonNode, { k: "obj" }>; metadata: Record<string, unknown> | null } {
  if (root.k !== "obj") throw new CofferError("INVALID_INPUT", "json: the top level must be an object", { field: "json" });
  const at = root.entries.findIndex(([k]) => k === "sops");
  if (at === -1) return { body: root, metadata: null };
  const removed = root.entries.splice(at, 1)[0];
  const raw = removed === undefined ? null : toPlain(removed[1]);
  return { body: root, metadata: typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>) : null };
}

export function parseJsonDocument(bytes: Uint8Array, indent: number | null = null): SopsDocument {
  const { body, metadata } = splitMetadata(parseJson(utf8.decode(bytes)));
  let meta: Readonly<Record<string, unknown>> | null = null;
  return {
    metadata,
    leaves() {
      const out: Leaf[] = [];
      walk(body, [], out);
      return out;
    },
    setMetadata(m) {
      meta = m;
    },
    serialize() {
      const root: JsonNode = meta === null ? body : { k: "obj", entries: [...body.entries, ["sops", fromPlain(meta)]] };
      return new TextEncoder().encode(`${formatJson(root, indent === null ? "\t" : " ".repeat(indent))}\n`);
    },
  };
}

/** A binary file: plaintext (`encrypted` false) or sops's JSON envelope. */
export function parseBinaryDocument(bytes: Uint8Array, encrypted: boolean, indent: number | null = null): SopsDocument {
  let data: Uint8Array | string = bytes;
  let metadata: Record<string, unknown> | null = null;
  if (encrypted) {
    const split = splitMetadata(parseJson(utf8.decode(bytes)));
    const d = split.body.entries.find(([k]) => k === "data")?.[1];
    if (d?.k !== "val" || d.s?.kind !== "str")
      throw new CofferError("CIPHERTEXT_MALFORMED", "data: a binary sops file needs a string 'data' entry", { path: "data" });
    data = d.s.value;
    metadata = split.metadata;
  }
  let meta: Readonly<Record<string, unknown>> | null = null;
  const leaf: Leaf = {
    kind: "value",
    path: ["data"],
    read: () => ({ type: "str", bytes: typeof data === "string" ? new TextEncoder().encode(data) : data }),
    stored: () => (typeof data === "string" ? data : null),
    writeEncrypted: (text) => {
      data = text;
    },
    writePlain: (p) => {
      data = p.bytes;
    },
  };
  return {
    metadata,
    leaves: () => [leaf],
    setMetadata(m) {
      meta = m;
    },
    serialize() {
      if (meta === null) return typeof data === "string" ? new TextEncoder().encode(data) : data;
      const text = typeof data === "string" ? data : utf8.decode(data);
      const root: JsonNode = {
        k: "obj",
        entries: [
          ["data", { k: "val", s: { kind: "str", value: text } }],
          ["sops", fromPlain(meta)],
        ],
      };
      return new TextEncoder().encode(`${formatJson(root, indent === null ? "\t" : " ".repeat(indent))}\n`);
    },
  };
}
