import { CofferError } from "../core/errors/index.ts";
import type { Leaf, SopsDocument } from "./leaf.ts";

/**
 * dotenv as sops reads it (FORMAT.md §9): lines split on `\n`, blank lines dropped, `#` lines
 * are comments, `KEY=VALUE` splits at the first `=`. Values are kept byte for byte: no quotes
 * removed, no `export`, no whitespace trimmed and no `$` expansion, ever; the only change is
 * sops's: a two-character `\n` in a value is a newline in the plaintext, and back on output.
 * Metadata is flattened into `sops_…` keys (`__map_`, `__list_<i>`), written sorted at the end.
 */
type Line = { kind: "comment"; text: string } | { kind: "pair"; key: string; value: string };
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const PREFIX = "sops_";

export function flatten(v: unknown, prefix: string, out: Map<string, string>): void {
  if (Array.isArray(v))
    v.forEach((x, i) => {
      flatten(x, `${prefix}__list_${String(i)}`, out);
    });
  else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) flatten(x, `${prefix}__map_${k}`, out);
  else if (v !== null && v !== undefined) out.set(prefix, typeof v === "string" ? v : JSON.stringify(v));
}

export function unflatten(entries: ReadonlyMap<string, string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    const steps = key.split(/__(?=map_|list_\d)/);
    let cur: Record<string, unknown> | unknown[] = root;
    steps.forEach((step, i) => {
      const name = i === 0 ? step : step.startsWith("map_") ? step.slice(4) : Number(step.slice(5));
      const last = i === steps.length - 1;
      const next = steps[i + 1];
      const container = (cur as Record<string | number, unknown>)[name];
      if (last) (cur as Record<string | number, unknown>)[name] = value;
      else if (typeof container === "object" && container !== null) cur = container as Record<string, unknown>;
      else {
        const made: Record<string, unknown> | unknown[] = next?.startsWith("list_") === true ? [] : {};
        (cur as Record<string | number, unknown>)[name] = made;
        cur = made;
      }
    });
  }
  return root;
}

export function parseDotenv(bytes: Uint8Array): SopsDocument {
  const lines: Line[] = [];
  const metaLines = new Map<string, string>();
  const seen = new Set<string>();
  utf8
    .decode(bytes)
    .split("\n")
    .forEach((raw, i) => {
      if (raw === "") return;
      if (raw.startsWith("#")) {
        lines.push({ kind: "comment", text: raw.slice(1) });
        return;
      }
      const eq = raw.indexOf("=");
      if (eq <= 0)
        throw new CofferError("INVALID_INPUT", `line ${String(i + 1)}: expected KEY=VALUE or a # comment`, {
          field: `line ${String(i + 1)}`,
        });
      const key = raw.slice(0, eq);
      const value = raw.slice(eq + 1).replaceAll("\\n", "\n");
      if (key.startsWith(PREFIX)) metaLines.set(key.slice(PREFIX.length), value);
      else {
        if (seen.has(key))
          throw new CofferError("INVALID_INPUT", `line ${String(i + 1)}: duplicate key ${key}`, { field: `line ${String(i + 1)}` });
        seen.add(key);
        lines.push({ kind: "pair", key, value });
      }
    });
  let meta: Readonly<Record<string, unknown>> | null = null;
  const enc = new TextEncoder();
  return {
    metadata: metaLines.size === 0 ? null : unflatten(metaLines),
    leaves: () =>
      lines.map((line): Leaf =>
        line.kind === "comment"
          ? {
              kind: "comment",
              path: [],
              read: () => ({ type: "comment", bytes: enc.encode(line.text) }),
              stored: () => line.text,
              writeEncrypted: (t) => (line.text = t),
              writePlain: (p) => (line.text = utf8.decode(p.bytes)),
            }
          : {
              kind: "value",
              path: [line.key],
              read: () => ({ type: "str", bytes: enc.encode(line.value) }),
              stored: () => line.value,
              writeEncrypted: (t) => (line.value = t),
              writePlain: (p) => (line.value = utf8.decode(p.bytes)),
            },
      ),
    setMetadata(m) {
      meta = m;
    },
    serialize() {
      const out = lines.map((l) => (l.kind === "comment" ? `#${l.text}` : `${l.key}=${l.value.replaceAll("\n", "\\n")}`));
      if (meta !== null) {
        const flat = new Map<string, string>();
        for (const [k, v] of Object.entries(meta)) flatten(v, `${PREFIX}${k}`, flat);
        for (const k of [...flat.keys()].sort()) out.push(`${k}=${(flat.get(k) ?? "").replaceAll("\n", "\\n")}`);
      }
      return enc.encode(out.map((l) => `${l}\n`).join(""));
    },
  };
}
