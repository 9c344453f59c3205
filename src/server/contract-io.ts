import type { FastifyRequest } from "fastify";
import type * as z from "zod/mini";
import type { ReadonlyDeep } from "../contract/index.ts";
import { CofferError, invalidInput } from "../core/errors/index.ts";

/**
 * A request's body, query or headers checked against its contract schema. The first issue
 * becomes INVALID_INPUT naming the field as the service does (`reason`, `meta.env`, `version`:
 * no `body.` prefix), with the rule text the contract took from the core, so a mistake reads
 * the same over HTTP as in the CLI. `root` names the whole when it is the wrong type.
 */
export function input<T>(schema: z.ZodMiniType<T>, value: unknown, root: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue !== undefined && issue.path.length > 0 ? issue.path.map(String).join(".") : root;
  throw invalidInput(field, issue?.message ?? "is invalid");
}

/** The JSON body of a request (`{}` when there is none) checked against `schema`. */
export function body<T>(schema: z.ZodMiniType<T>, req: FastifyRequest): T {
  return input(schema, req.body ?? {}, "body");
}

/**
 * An answer shaped by its contract schema: only the fields the contract names go out. An
 * answer that does not fit is a bug on the server: INTERNAL, never a half-checked document.
 */
export function output<S extends z.ZodMiniType>(schema: S, value: ReadonlyDeep<z.input<S>>): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new CofferError("INTERNAL", `an answer does not fit the API contract at ${issue?.path.map(String).join(".") ?? "?"}`);
}
