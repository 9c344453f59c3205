import type { SopsDocument } from "./leaf.ts";
import { plainToScalar } from "./scalar-text.ts";

/**
 * The environment `coffer run --file` injects, like `sops exec-env`: every top-level scalar
 * (strings as they are, numbers and bools in sops's text form: `7`, `3.14`, `True`). Nested maps
 * and lists are skipped (their names are returned so the CLI can say so); nulls are skipped.
 */
export function envFromDocument(doc: SopsDocument): { env: Map<string, string>; skipped: string[] } {
  const env = new Map<string, string>();
  const skipped = new Set<string>();
  for (const leaf of doc.leaves()) {
    if (leaf.kind !== "value") continue;
    const [name, ...rest] = leaf.path;
    if (name === undefined) continue;
    if (rest.length > 0 || env.has(name)) {
      skipped.add(name);
      env.delete(name);
      continue;
    }
    if (skipped.has(name)) continue;
    const plain = leaf.read();
    if (plain === null) continue;
    const s = plainToScalar(plain, name);
    env.set(name, s.kind === "str" ? s.value : new TextDecoder("utf-8", { ignoreBOM: true }).decode(plain.bytes));
  }
  return { env, skipped: [...skipped] };
}
