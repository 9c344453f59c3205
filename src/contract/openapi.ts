/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the contract's zod schemas with
 * zod's own `z.toJSONSchema` (JSON Schema draft 2020-12, which OpenAPI 3.1 uses as is), so the
 * document, the server's validation and the SDK's types are the same schemas.
 */
import * as z from "zod/mini";
import { CODES } from "../core/errors/index.ts";
import { contractRegistry, Problem, PROBLEM_CONTENT_TYPE } from "./common.ts";
import { OPERATIONS, type Operation } from "./routes.ts";

type Json = Record<string, unknown>;

/** The API's version (the `/v1` in its paths); the document changes with the contract, not with releases. */
export const API_VERSION = "1";

const PROBLEM_RESPONSES: Readonly<Record<number, { readonly name: string; readonly description: string }>> = {
  400: {
    name: "BadRequest",
    description: "Bad input (INVALID_INPUT and others): `detail` names the field and the rule, `field` the field.",
  },
  401: {
    name: "Unauthorized",
    description: "No valid bearer token (UNAUTHENTICATED), or a reveal needs recent authentication (REAUTH_REQUIRED).",
  },
  403: { name: "Forbidden", description: "The token lacks the scope or owner (SCOPE_DENIED); the denial is audited." },
  404: { name: "NotFound", description: "No such secret, template, token or route (NOT_FOUND)." },
  409: { name: "Conflict", description: "The current version is not the one `If-Match` named, or a similar conflict (CONFLICT)." },
  410: { name: "Gone", description: "The one-time link was used, expired or never existed (SHARE_LINK_INVALID)." },
  422: { name: "UnprocessableContent", description: "An Idempotency-Key reused with another body (IDEMPOTENCY_MISMATCH)." },
  429: { name: "TooManyRequests", description: "Rate limited (RATE_LIMITED): `Retry-After` and `retryAfter` say when to retry." },
  500: { name: "InternalServerError", description: "A fault on the server (INTERNAL, DECRYPT_FAILED, …); the log has the request id." },
  503: { name: "ServiceUnavailable", description: "The store, the audit log or a key provider is unavailable; retry later." },
};

/** Converts one schema; named sub-schemas go to `components.schemas`, referenced by `$ref`. */
function schemaOf(schema: z.ZodMiniType, components: Json): Json {
  const json = z.toJSONSchema(schema, { metadata: contractRegistry, io: "input", unrepresentable: "any" }) as Json;
  const defs = (json["$defs"] ?? {}) as Record<string, Json>;
  delete json["$defs"];
  delete json["$schema"];
  for (const [id, def] of Object.entries(defs)) {
    const moved = rewriteRefs(def) as Json;
    const had = components[id];
    if (had !== undefined && JSON.stringify(had) !== JSON.stringify(moved)) throw new Error(`two different schemas are named ${id}`);
    components[id] = moved;
  }
  // A named root comes back as a `$ref` to its own entry.
  return rewriteRefs(json) as Json;
}

function rewriteRefs(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(rewriteRefs);
  if (typeof v !== "object" || v === null) return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    out[k] = k === "$ref" && typeof x === "string" ? x.replace(/^#\/\$defs\//, "#/components/schemas/") : rewriteRefs(x);
  }
  return out;
}

/** An object schema's properties as OpenAPI parameters. */
function parametersOf(where: "path" | "query", obj: z.ZodMiniObject, components: Json): Json[] {
  const json = schemaOf(obj, components);
  const props = (json["properties"] ?? {}) as Record<string, Json>;
  const required = new Set((json["required"] ?? []) as string[]);
  return Object.entries(props).map(([name, schema]) => {
    const { description, ...rest } = schema;
    return {
      name,
      in: where,
      required: where === "path" || required.has(name),
      ...(typeof description === "string" ? { description } : {}),
      schema: rest,
    };
  });
}

function operationOf(op: Operation, components: Json): Json {
  const parameters: Json[] = [
    ...(op.params === undefined ? [] : parametersOf("path", op.params, components)),
    ...(op.query === undefined ? [] : parametersOf("query", op.query, components)),
    ...(op.headers ?? []).map((h) => ({
      name: h.name,
      in: "header",
      required: h.required === true,
      description: h.description,
      schema: { type: "string" },
    })),
  ];
  const okContent =
    op.ok.schema === undefined
      ? {}
      : { content: { [op.ok.contentType ?? "application/json"]: { schema: schemaOf(op.ok.schema, components) } } };
  const okHeaders =
    op.ok.headers === undefined
      ? {}
      : { headers: Object.fromEntries(op.ok.headers.map((h) => [h.name, { description: h.description, schema: { type: "string" } }])) };
  const responses: Json = {};
  for (const status of [op.ok.status, ...(op.ok.alsoStatus ?? [])])
    responses[String(status)] = { description: op.ok.description, ...okHeaders, ...okContent };
  const errors = new Set([400, 500, 503, ...(op.auth === false ? [] : [401, 403, 429]), ...(op.errors ?? [])]);
  for (const status of [...errors].sort((a, b) => a - b)) {
    const r = PROBLEM_RESPONSES[status];
    if (r === undefined) throw new Error(`no problem response for ${String(status)}`);
    responses[String(status)] = { $ref: `#/components/responses/${r.name}` };
  }
  return {
    operationId: op.operationId,
    summary: op.summary,
    tags: [op.tag],
    ...(op.auth === false ? { security: [] } : {}),
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(op.body === undefined
      ? {}
      : { requestBody: { required: true, content: { "application/json": { schema: schemaOf(op.body, components) } } } }),
    responses,
  };
}

/** The document, deterministic: the same contract always gives the same bytes. */
export function openApiDocument(): Json {
  const schemas: Json = {};
  const paths: Record<string, Json> = {};
  for (const op of OPERATIONS) {
    const item = paths[op.path] ?? {};
    if (item[op.method] !== undefined) throw new Error(`${op.method.toUpperCase()} ${op.path} is in the contract twice`);
    item[op.method] = operationOf(op, schemas);
    paths[op.path] = item;
  }
  const problem = schemaOf(Problem, schemas);
  const responses: Json = {};
  const retryAfter = { "Retry-After": { description: "Seconds to wait.", schema: { type: "string" } } };
  for (const [status, r] of Object.entries(PROBLEM_RESPONSES))
    responses[r.name] = {
      description: r.description,
      ...(status === "429" ? { headers: retryAfter } : {}),
      content: { [PROBLEM_CONTENT_TYPE]: { schema: problem } },
    };
  return {
    openapi: "3.1.0",
    info: {
      title: "Coffer HTTP API",
      version: API_VERSION,
      description:
        "Coffer's HTTP API (v1). Errors are RFC 9457 problem+json documents with a stable `code` " +
        `(${String(CODES.length)} codes, docs/errors.md); for bad input \`detail\` is the message the CLI prints for the same mistake.`,
    },
    servers: [{ url: "/" }],
    security: [{ bearer: [] }],
    tags: ["secrets", "transfer", "templates", "tokens", "audit", "admin", "console", "operations"].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "An API token (`coffer_…`): `coffer token create`." } },
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
      responses,
    },
  };
}
