import { CofferError } from "../core/errors/index.ts";
import { flatten, unflatten } from "./codec-dotenv.ts";
import type { Leaf, SopsDocument } from "./leaf.ts";

/**
 * INI, best effort (FORMAT.md §9; no age vector exists): sections are top-level keys, every
 * value is a string, the AAD is `section:key:`, `;`/`#` comment lines are comment leaves of their
 * section. Metadata is a `[sops]` section of flattened keys with newlines escaped as `\n`.
 */
type Entry = { kind: "comment"; mark: string; text: string } | { kind: "pair"; key: string; value: string };
type Section = { name: string; entries: Entry[] };
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

export function parseIni(bytes: Uint8Array): SopsDocument {
  const sections: Section[] = [];
  let cur: Section = { name: "DEFAULT", entries: [] };
  const metaFlat = new Map<string, string>();
  let inSops = false;
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
          cur = { name, entries: [] };
          sections.push(cur);
        }
        return;
      }
      if (line.startsWith(";") || line.startsWith("#")) {
        if (inSops) return;
        if (!sections.includes(cur)) sections.push(cur);
        cur.entries.push({ kind: "comment", mark: line[0] ?? "#", text: line.slice(1) });
        return;
      }
      const eq = line.indexOf("=");
      if (eq <= 0)
        throw new CofferError("INVALID_INPUT", `line ${String(i + 1)}: expected key = value, [section] or a comment`, {
          field: `line ${String(i + 1)}`,
        });
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      if (inSops) metaFlat.set(key, value.replaceAll("\\n", "\n"));
      else {
        if (!sections.includes(cur)) sections.push(cur);
        cur.entries.push({ kind: "pair", key, value });
      }
    });
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
      const out: string[] = [];
      for (const s of sections) {
        if (out.length > 0) out.push("");
        // Keys and comments before the first section belong to go-ini's DEFAULT section, written without a header.
        if (s.name !== "DEFAULT" || sections.indexOf(s) !== 0) out.push(`[${s.name}]`);
        for (const e of s.entries) out.push(e.kind === "comment" ? `${e.mark}${e.text}` : `${e.key} = ${e.value}`);
      }
      if (meta !== null) {
        const flat = new Map<string, string>();
        for (const [k, v] of Object.entries(meta)) flatten(v, k, flat);
        out.push("", "[sops]");
        for (const k of [...flat.keys()].sort()) out.push(`${k} = ${(flat.get(k) ?? "").replaceAll("\n", "\\n")}`);
      }
      return enc.encode(`${out.join("\n")}\n`);
    },
  };
}
