export { TEMPLATE_FILTERS, parseTemplate, templateReferences } from "./template-parse.ts";
export type { ParsedTemplate, SecretReference, TemplateFilter, TemplatePart } from "./template-parse.ts";
export { TEMPLATE_FORMATS, escapeValue, resolveTemplateFormat, templateContentType, templateFormatFromName } from "./template-escape.ts";
export type { TemplateFormat } from "./template-escape.ts";
export { referenceName, renderTemplate } from "./template-render.ts";
