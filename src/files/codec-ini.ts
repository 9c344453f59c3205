import { CofferError } from "../core/errors/index.ts";
import { flatten, unflatten } from "./codec-dotenv.ts";
import type { Leaf, SopsDocument } from "./leaf.ts";

/**
 * INI, best effort (FORMAT.md §9; no age vector exists): sections are top-level keys, every
 * value is a string, the AAD is `section:key:`, `;`/`#` comment lines are comment leaves of their
 * section. Metadata is a `[sops]` section of flattened keys with newlines escaped as `\n`.
 */
type Entry = { kind: "comment"; text: string } | { kind: "pair"; key: string; value: string };
type Section = { name: string; entries: Entry[]; head: number };
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

export function parseIni(bytes: Uint8Array): SopsDocument {
  const sections: Section[] = [];
  let cur: Section = { name: "DEFAULT", entries: [], head: 0 };
  const metaFlat = new Map<string, string>();
  let inSops = false;
  // go-ini attaches comments to what follows them: a comment above `[section]` belongs to that section.
  let pending: Entry[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    if (!sections.includes(cur)) sections.push(cur);
    cur.entries.push(...pending);
    pending = [];
  };
  utf8
    .decode(bytes)
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const line = raw.trim();
      if (line === "") return;
      const sec = /^\[([^\]]+)\]$/.exec(line);
      if (sec !== null) {
        const name = (sec[1] ?? "").trim();
        inSops = name === "sops";
        if (!inSops) {
          cur = { name, entries: pending, head: pending.length };
          pending = [];
          sections.push(cur);
        }
        return;
      }
      if (line.startsWith(";") || line.startsWith("#")) {
        if (inSops) return;
        pending.push({ kind: "comment", text: line.slice(1).trim() });
        return;
      }
      const eq = line.indexOf("=");
      if (eq <= 0)
        throw new CofferError("INVALID_INPUT", `line ${String(i + 1)}: expected key = value, [section] or a comment`, {
          field: `line ${String(i + 1)}`,
        });
      const key = line.slice(0, eq).trim();
      const rawValue = line.slice(eq + 1).trim();
      // go-ini removes one pair of surrounding quotes (sops prints the value without them).
      const q = rawValue[0];
      const value =
        rawValue.length >= 2 && (q === '"' || q === "'" || q === "`") && rawValue.endsWith(q) ? rawValue.slice(1, -1) : rawValue;
      if (inSops) metaFlat.set(key, value.replaceAll("\\n", "\n"));
      else {
        flush();
        cur.entries.push({ kind: "pair", key, value });
      }
    });
  flush();
  let meta: Readonly<Record<string, unknown>> | null = null;
  const enc = new TextEncoder();
  return {
    metadata: metaFlat.size === 0 ? null : unflatten(metaFlat),
    leaves: () =>
      sections.flatMap((s) =>
        s.entries.map((e): Leaf =>
          e.kind === "comment"
            ? {
                kind: "comment",
                path: [s.name],
                read: () => ({ type: "comment", bytes: enc.encode(e.text) }),
                stored: () => e.text,
                writeEncrypted: (t) => (e.text = t),
                writePlain: (p) => (e.text = utf8.decode(p.bytes)),
              }
            : {
                kind: "value",
                path: [s.name, e.key],
                read: () => ({ type: "str", bytes: enc.encode(e.value) }),
                stored: () => e.value,
                writeEncrypted: (t) => (e.value = t),
                writePlain: (p) => (e.value = utf8.decode(p.bytes)),
              },
        ),
      ),
    setMetadata(m) {
      meta = m;
    },
    serialize() {
      // As go-ini writes it (sops): section comments above the header, `; ` comments, keys padded
      // to the longest key of their section, a blank line after each section.
      const out: string[] = [];
      const pairs = (entries: readonly Entry[]): void => {
        const width = Math.max(0, ...entries.map((e) => (e.kind === "pair" ? e.key.length : 0)));
        for (const e of entries) {
          if (e.kind === "comment") out.push(`; ${e.text}`);
          else out.push(`${e.key.padEnd(width)} = ${e.value}`);
        }
      };
      for (const s of sections) {
        const head = s.name === "DEFAULT" ? [] : s.entries.slice(0, s.head);
        pairs(head);
        if (s.name !== "DEFAULT") out.push(`[${s.name}]`);
        pairs(s.name === "DEFAULT" ? s.entries : s.entries.slice(head.length));
        out.push("");
      }
      if (meta !== null) {
        const flat = new Map<string, string>();
        for (const [k, v] of Object.entries(meta)) flatten(v, k, flat);
        out.push("[sops]");
        pairs([...flat.keys()].sort().map((k) => ({ kind: "pair", key: k, value: (flat.get(k) ?? "").replaceAll("\n", "\\n") })));
        out.push("");
      }
      return enc.encode(`${out.join("\n")}\n`);
    },
  };
}
