/** Stored templates (`/v1/templates/:ownerType/:ownerId[/:name]`). */
import * as z from "zod/mini";
import { doc, itemsOf, text, Timestamp } from "./common.ts";

export const TemplateDto = doc(
  z.object({
    owner: z.string(),
    name: z.string(),
    format: doc(z.nullable(z.string()), "From the name's extension (`backup.toml` → `toml`); null when it says none."),
    references: doc(z.nullable(z.int()), "How many references the template has (null in listings)."),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    updatedBy: z.string(),
  }),
  "A stored template, without its text.",
  "Template",
);
export type TemplateDto = z.infer<typeof TemplateDto>;

export const TemplateTextDto = doc(
  z.object({ ...TemplateDto.def.shape, text: z.string() }),
  "A stored template and its text.",
  "TemplateText",
);
export type TemplateTextDto = z.infer<typeof TemplateTextDto>;

export const TemplateList = itemsOf(TemplateDto);

export const PutTemplateBody = doc(z.object({ text: text("must be the template's text") }), "A template's text.", "PutTemplateRequest");
export const RenderTemplateBody = doc(
  z.object({
    reason: z.optional(doc(text(), "Recorded with each reveal (default `render <name>`).")),
    format: z.optional(doc(text(), "Escape for this format instead of the one the name implies.")),
  }),
  "Render a template.",
  "RenderTemplateRequest",
);
