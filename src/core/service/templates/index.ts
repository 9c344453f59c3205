/** Stored templates and their rendering. */
export { TemplateService, TEMPLATE_NAME_RULE } from "./templates.ts";
export type { RenderedTemplate, TemplateText, TemplateView } from "./templates.ts";
