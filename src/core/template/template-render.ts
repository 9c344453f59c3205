import { CofferError } from "../errors/index.ts";
import { renderValue, type TemplateFormat } from "./template-escape.ts";
import type { ParsedTemplate, SecretReference } from "./template-parse.ts";

/** How a reference is named in messages: owner, key, version and where it stands. Never a value. */
export function referenceName(ref: SecretReference, owner: string): string {
  const v = ref.version === null ? "" : ` v${String(ref.version)}`;
  return `${owner} ${ref.key}${v} (line ${String(ref.line)})`;
}

/**
 * Renders a parsed template: text as written, each reference replaced by its value, filtered
 * and escaped for `format`. `valueOf` returns the value's bytes, or null for a secret that
 * does not exist (then the reference's `default=` is used, or the render fails).
 * @throws CofferError NOT_FOUND naming a missing reference without a default; INVALID_INPUT from the escapes.
 */
export function renderTemplate(
  t: ParsedTemplate,
  format: TemplateFormat,
  valueOf: (ref: SecretReference) => { readonly owner: string; readonly value: Uint8Array | null },
): Uint8Array {
  const chunks: Uint8Array[] = [];
  try {
    for (const part of t.parts) {
      if (part.kind === "text") {
        chunks.push(Buffer.from(part.text, "utf8"));
        continue;
      }
      const { owner, value } = valueOf(part);
      const name = referenceName(part, owner);
      const bytes = value ?? (part.fallback === null ? null : Buffer.from(part.fallback, "utf8"));
      if (bytes === null) throw new CofferError("NOT_FOUND", `template: ${name} does not exist`, { field: "template", reference: name });
      chunks.push(renderValue(bytes, part.filters, format, { name }));
    }
    return Buffer.concat(chunks);
  } finally {
    for (const c of chunks) c.fill(0);
  }
}
