import type { FastifyInstance, FastifyRequest } from "fastify";
import * as z from "zod/mini";
import type { GenerateResultDto, RevealAllDto, RevealedDto, SecretPage, ShareDto } from "../contract/index.ts";
import { CofferError, invalidInput } from "../core/errors/index.ts";
import { parseOwner, parseWith } from "../core/model/index.ts";
import { Secret } from "../core/secret/index.ts";
import type { Actor, Core, RequestContext, RevealedSecret, SecretView } from "../core/service/index.ts";
import type { Metrics } from "./metrics.ts";

const OWNER_TYPES = ["user", "project", "system"] as const;
const Meta = z.optional(z.record(z.string(), z.string()));
const PutBody = z.object({ value: z.optional(z.string()), valueBase64: z.optional(z.string()), meta: Meta });
const RevealBody = z.object({ reason: z.string(), version: z.optional(z.int("must be a whole number")) });
const ShareBody = z.object({ reason: z.string(), version: z.optional(z.int("must be a whole number")), ttl: z.optional(z.string()) });
const RotateBody = z.object({ regenerate: z.optional(z.boolean("must be true or false")) });
const GenerateBody = z.object({
  length: z.optional(z.int("must be a whole number")),
  charset: z.optional(z.string()),
  bytes: z.optional(z.int("must be a whole number")),
  encoding: z.optional(z.string()),
  ifMissing: z.optional(z.boolean("must be true or false")),
  meta: Meta,
});
const RevealAllBody = z.object({ reason: z.string(), prefix: z.optional(z.string()) });
const ListQuery = z.object({
  ownerType: z.optional(z.string()),
  ownerId: z.optional(z.string()),
  prefix: z.optional(z.string()),
  cursor: z.optional(z.string().check(z.regex(/^\d{1,15}$/, "must be a cursor from a previous page"))),
  limit: z.optional(z.string().check(z.regex(/^\d{1,4}$/, "must be a whole number from 1 to 1000"))),
  deleted: z.optional(z.enum(["true", "false"], { error: "must be true or false" })),
});
const VersionQuery = z.object({ version: z.optional(z.string().check(z.regex(/^\d{1,9}$/, "must be a whole number"))) });

type OwnerParams = { ownerType: string; ownerId: string };
type SecretParams = OwnerParams & { keyName: string };

export function ctxOf(req: FastifyRequest): RequestContext {
  const reauth = req.headers["x-coffer-reauth"];
  return { requestId: req.id, clientAddr: req.ip, reauth: typeof reauth === "string" ? reauth : null };
}

export function actorOf(req: FastifyRequest): Actor {
  if (req.actor === null) throw new CofferError("UNAUTHENTICATED", "authentication required: send Authorization: Bearer <token>");
  return req.actor;
}

/** `user/alice`, `project/acme` or `system` from the two path segments (`system/_`). */
export function ownerText(p: OwnerParams): string {
  if (!(OWNER_TYPES as readonly string[]).includes(p.ownerType)) {
    // The core's owner rule, so the mistake reads as it does in the CLI.
    parseOwner(p.ownerId === "" ? p.ownerType : `${p.ownerType}/${p.ownerId}`);
    throw invalidInput("ownerType", "must be one of user, project, system");
  }
  if (p.ownerType === "system") {
    if (p.ownerId !== "_") throw invalidInput("ownerId", "must be '_' for the system owner");
    return "system";
  }
  return `${p.ownerType}/${p.ownerId}`;
}

/** `NAME:action` (a path segment) split at its last colon; key names never contain one. */
export function splitAction(segment: string, field: string): { readonly name: string; readonly action: string } {
  const at = segment.lastIndexOf(":");
  if (at <= 0) throw new CofferError("NOT_FOUND", `no such action on ${field}; use ${field}:<action>`);
  return { name: segment.slice(0, at), action: segment.slice(at + 1) };
}

/** The fields that were given (zod's optional fields come back as `undefined` otherwise). */
function definedOnly<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

export function body<T>(schema: z.ZodMiniType<T>, req: FastifyRequest): T {
  return parseWith(schema, req.body ?? {}, "body");
}

/** The If-Match header as an expected version: `3` or `"3"`. */
function ifMatch(req: FastifyRequest): number | undefined {
  const h = req.headers["if-match"];
  if (h === undefined) return undefined;
  const m = /^\s*"?(\d{1,9})"?\s*$/.exec(h);
  if (m === null) throw invalidInput("If-Match", 'must be a version number, e.g. If-Match: "3"');
  return Number(m[1]);
}

function valueOf(b: z.infer<typeof PutBody>): Secret {
  if ((b.value === undefined) === (b.valueBase64 === undefined)) throw invalidInput("body.value", "give exactly one of value, valueBase64");
  if (b.value !== undefined) return Secret.fromString(b.value);
  const text = b.valueBase64 ?? "";
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw invalidInput("body.valueBase64", "must be base64");
  return Secret.adopt(Buffer.from(text, "base64"));
}

export function revealedDto(r: RevealedSecret): RevealedDto {
  const bytes = r.value.reveal();
  try {
    const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
    const utf8 = Buffer.from(text, "utf8").equals(bytes);
    return { ...r.view, value: utf8 ? text : null, ...(utf8 ? {} : { valueBase64: Buffer.from(bytes).toString("base64") }) };
  } finally {
    bytes.fill(0);
    r.value.wipe();
  }
}

export function secretRoutes(app: FastifyInstance, core: Core, metrics: Metrics, publicUrl: string | null): void {
  const s = core.secrets;

  app.get("/v1/secrets", async (req): Promise<SecretPage> => {
    const q = parseWith(ListQuery, req.query, "query");
    if (q.ownerId !== undefined && q.ownerType === undefined) throw invalidInput("ownerType", "is required with ownerId");
    const owner =
      q.ownerType !== undefined && q.ownerId !== undefined ? ownerText({ ownerType: q.ownerType, ownerId: q.ownerId }) : undefined;
    const page = await s.list(
      actorOf(req),
      {
        ...(owner === undefined ? {} : { owner }),
        ...(owner === undefined && q.ownerType !== undefined ? { ownerType: q.ownerType } : {}),
        ...(q.prefix === undefined ? {} : { prefix: q.prefix }),
        ...(q.cursor === undefined ? {} : { cursor: Number(q.cursor) }),
        limit: q.limit === undefined ? 100 : Number(q.limit),
        includeDeleted: q.deleted === "true",
      },
      ctxOf(req),
    );
    return { items: page.items, nextCursor: page.nextCursor === null ? null : String(page.nextCursor) };
  });

  app.get<{ Params: SecretParams }>("/v1/secrets/:ownerType/:ownerId/:keyName", async (req, reply): Promise<SecretView> => {
    const q = parseWith(VersionQuery, req.query, "query");
    const view = await s.get(
      actorOf(req),
      { owner: ownerText(req.params), key: req.params.keyName, ...(q.version === undefined ? {} : { version: Number(q.version) }) },
      ctxOf(req),
    );
    void reply.header("etag", `"${String(view.version)}"`);
    return view;
  });

  app.get<{ Params: SecretParams }>("/v1/secrets/:ownerType/:ownerId/:keyName/versions", async (req) => ({
    items: await s.history(actorOf(req), { owner: ownerText(req.params), key: req.params.keyName }, ctxOf(req)),
  }));

  app.put<{ Params: SecretParams }>("/v1/secrets/:ownerType/:ownerId/:keyName", async (req, reply): Promise<SecretView> => {
    const b = body(PutBody, req);
    const expected = ifMatch(req);
    const input = {
      owner: ownerText(req.params),
      key: req.params.keyName,
      value: valueOf(b),
      ...(b.meta === undefined ? {} : { meta: b.meta }),
      ...(expected === undefined ? {} : { expectedVersion: expected }),
    };
    try {
      const idemKey = req.headers["idempotency-key"];
      const actor = actorOf(req);
      if (typeof idemKey === "string" && actor.kind === "token") {
        const r = await s.setIdempotent(actor, ctxOf(req), input, { scope: actor.tokenId, key: idemKey });
        if (r.replayed) void reply.header("idempotent-replayed", "true");
        void reply.header("etag", `"${String(r.view.version)}"`);
        return r.view;
      }
      const view = await s.set(actor, ctxOf(req), input);
      void reply.header("etag", `"${String(view.version)}"`);
      return view;
    } finally {
      input.value.wipe();
    }
  });

  app.delete<{ Params: SecretParams }>("/v1/secrets/:ownerType/:ownerId/:keyName", async (req) => {
    const expected = ifMatch(req);
    return s.unset(actorOf(req), ctxOf(req), {
      owner: ownerText(req.params),
      key: req.params.keyName,
      ...(expected === undefined ? {} : { expectedVersion: expected }),
    });
  });

  // `KEY:reveal`, `KEY:share`, `KEY:rotate`: one route, the action after the last colon.
  app.post<{ Params: OwnerParams & { action: string } }>("/v1/secrets/:ownerType/:ownerId/:action", async (req, reply) => {
    const { name, action } = splitAction(req.params.action, "keyName");
    const ref = { owner: ownerText(req.params), key: name };
    const actor = actorOf(req);
    switch (action) {
      case "reveal": {
        const b = body(RevealBody, req);
        const r = await s.reveal(actor, ctxOf(req), {
          ...ref,
          reason: b.reason,
          ...(b.version === undefined ? {} : { version: b.version }),
        });
        metrics.reveals.inc({ via: "api" });
        return revealedDto(r);
      }
      case "share": {
        const b = body(ShareBody, req);
        const link = await s.share(actor, ctxOf(req), {
          ...ref,
          reason: b.reason,
          ...(b.version === undefined ? {} : { version: b.version }),
          ...(b.ttl === undefined ? {} : { ttl: b.ttl }),
        });
        const token = new TextDecoder().decode(link.token.reveal());
        link.token.wipe();
        const base = publicUrl ?? `${req.protocol}://${req.host}`;
        const dto: ShareDto = {
          id: link.id,
          token,
          url: `${base}/v1/shared/${token}:reveal`,
          expiresAt: link.expiresAt,
          secret: link.view,
        };
        return reply.code(201).send(dto);
      }
      case "rotate":
        return body(RotateBody, req).regenerate === true
          ? core.generator.regenerate(actor, ctxOf(req), ref)
          : s.rotate(actor, ctxOf(req), ref);
      case "generate": {
        const b = body(GenerateBody, req);
        const input = { ...ref, ...definedOnly(b) };
        const idemKey = req.headers["idempotency-key"];
        const idem = typeof idemKey === "string" && actor.kind === "token" ? { scope: actor.tokenId, key: idemKey } : undefined;
        const r = await core.generator.generate(actor, ctxOf(req), input, idem);
        if (r.replayed) void reply.header("idempotent-replayed", "true");
        const dto: GenerateResultDto = { secret: r.view, created: r.created };
        return reply.code(r.created ? 201 : 200).send(dto);
      }
      default:
        throw new CofferError("NOT_FOUND", `no action '${action}' on a secret; use :reveal, :share, :rotate or :generate`);
    }
  });

  // `OWNER_ID:reveal`: every live secret of an owner (under a prefix), for `coffer run`.
  app.post<{ Params: { ownerType: string; tail: string } }>("/v1/secrets/:ownerType/:tail", async (req): Promise<RevealAllDto> => {
    // `bogus/:reveal` (an owner without an id): the owner rule, as the CLI states it locally.
    if (req.params.tail.startsWith(":")) ownerText({ ownerType: req.params.ownerType, ownerId: "" });
    const { name, action } = splitAction(req.params.tail, "ownerId");
    if (action !== "reveal") throw new CofferError("NOT_FOUND", `no action '${action}' on an owner; use :reveal`);
    const owner = ownerText({ ownerType: req.params.ownerType, ownerId: name });
    const b = body(RevealAllBody, req);
    const all = await s.revealAll(actorOf(req), ctxOf(req), {
      owner,
      reason: b.reason,
      ...(b.prefix === undefined ? {} : { prefix: b.prefix }),
    });
    const secrets: Record<string, string> = {};
    const binary: string[] = [];
    for (const [k, v] of all) {
      const bytes = v.reveal();
      const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
      if (Buffer.from(text, "utf8").equals(bytes)) secrets[k] = text;
      else binary.push(k);
      bytes.fill(0);
      v.wipe();
    }
    metrics.reveals.inc({ via: "owner" }, all.size);
    return { owner, secrets, binary };
  });

  app.post<{ Params: { tail: string } }>("/v1/shared/:tail", { config: { auth: false } }, async (req) => {
    const { name, action } = splitAction(req.params.tail, "token");
    if (action !== "reveal") throw new CofferError("NOT_FOUND", "no such action on a link; use :reveal");
    const r = await s.redeemShare(ctxOf(req), name);
    metrics.reveals.inc({ via: "share" });
    return revealedDto(r);
  });
}
