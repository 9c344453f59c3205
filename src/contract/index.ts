/**
 * The HTTP API's contract (v1): the zod schemas of every endpoint's parameters, bodies and
 * answers, split by capability, and the table of endpoints the OpenAPI document is generated
 * from. The server validates requests and shapes answers with these schemas; the SDK's types
 * are inferred from them. Browser-safe: no Node built-ins here or in what this imports.
 */
export * from "./common.ts";
export * from "./paths.ts";
export * from "./secrets.ts";
export * from "./templates.ts";
export * from "./transfer.ts";
export * from "./tokens.ts";
export * from "./audit.ts";
export * from "./admin.ts";
export * from "./ops.ts";
export { OPERATIONS, type Operation, type HeaderDoc } from "./routes.ts";
export { openApiDocument } from "./openapi.ts";
export * from "./owner-admin.ts";
export * from "./console.ts";
export * from "./value-encoding.ts";
