import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  encodeValue,
  parseValueInput,
  GenerateBody,
  GenerateResultDto,
  ListSecretsQuery,
  PutSecretBody,
  RevealAllDto,
  RevealBody,
  RevealedDto,
  RevealOwnerBody,
  RotateSecretBody,
  SecretDto,
  SecretPage,
  ShareBody,
  ShareDto,
  VersionList,
  VersionQuery,
} from "../contract/index.ts";
import { CofferError, invalidInput } from "../core/errors/index.ts";
import { parseOwner } from "../core/model/index.ts";
import { Secret } from "../core/secret/index.ts";
import type { Actor, Core, RequestContext, RevealedSecret } from "../core/service/index.ts";
import { body, input, output } from "./contract-io.ts";
import type { Metrics } from "./metrics.ts";

export { body } from "./contract-io.ts";

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

/**
 * `user/alice`, `project/acme` or `system` from the two path segments (`system/_`), checked by
 * the core's owner rule: a bad owner reads `owner: must be …` here as in the CLI.
 */
export function ownerText(p: OwnerParams): string {
  if (p.ownerType === "system" && p.ownerId === "_") return "system";
  const text = `${p.ownerType}/${p.ownerId}`;
  parseOwner(text, "owner");
  return text;
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

/** The If-Match header as an expected version: `3` or `"3"`. */
function ifMatch(req: FastifyRequest): number | undefined {
  const h = req.headers["if-match"];
  if (h === undefined) return undefined;
  const m = /^\s*"?(\d{1,9})"?\s*$/.exec(h);
  if (m === null) throw invalidInput("If-Match", 'must be a version number, e.g. If-Match: "3"');
  return Number(m[1]);
}

function valueOf(b: PutSecretBody): Secret {
  return Secret.adopt(parseValueInput(b));
}

export function revealedDto(r: RevealedSecret): RevealedDto {
  const bytes = r.value.reveal();
  try {
    return output(RevealedDto, { ...r.view, ...encodeValue(bytes) });
  } finally {
    bytes.fill(0);
    r.value.wipe();
  }
}

export function secretRoutes(app: FastifyInstance, core: Core, metrics: Metrics, publicUrl: string | null): void {
  const s = core.secrets;

  app.get("/v1/secrets", async (req): Promise<SecretPage> => {
    const q = input(ListSecretsQuery, req.query, "query");
    if (q.ownerId !== undefined && q.ownerType === undefined) throw invalidInput("ownerType", "is required with ownerId");
    const owner =
      q.ownerType !== undefined && q.ownerId !== undefined ? ownerText({ ownerType: q.ownerType, ownerId: q.ownerId }) : undefined;
    const page = await s.list(actorOf(req), ctxOf(req), {
      ...(owner === undefined ? {} : { owner }),
      ...(owner === undefined && q.ownerType !== undefined ? { ownerType: q.ownerType } : {}),
      ...(q.prefix === undefined ? {} : { prefix: q.prefix }),
      ...(q.cursor === undefined ? {} : { cursor: Number(q.cursor) }),
      limit: q.limit === undefined ? 100 : Number(q.limit),
      includeDeleted: q.deleted === "true",
    });
    return output(SecretPage, { items: page.items, nextCursor: page.nextCursor === null ? null : String(page.nextCursor) });
  });

  app.get<{ Params: SecretParams }>("/v1/secrets/:ownerType/:ownerId/:keyName", async (req, reply): Promise<SecretDto> => {
    const q = input(VersionQuery, req.query, "query");
    const view = await s.get(actorOf(req), ctxOf(req), {
      owner: ownerText(req.params),
      key: req.params.keyName,
      ...(q.version === undefined ? {} : { version: Number(q.version) }),
    });
    void reply.header("etag", `"${String(view.version)}"`);
    return output(SecretDto, view);
  });

  app.get<{ Params: SecretParams }>("/v1/secrets/:ownerType/:ownerId/:keyName/versions", async (req) =>
    output(VersionList, { items: await s.history(actorOf(req), ctxOf(req), { owner: ownerText(req.params), key: req.params.keyName }) }),
  );

  app.put<{ Params: SecretParams }>("/v1/secrets/:ownerType/:ownerId/:keyName", async (req, reply): Promise<SecretDto> => {
    const b = body(PutSecretBody, req);
    const expected = ifMatch(req);
    const write = {
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
        const r = await s.setIdempotent(actor, ctxOf(req), write, { scope: actor.tokenId, key: idemKey });
        if (r.replayed) void reply.header("idempotent-replayed", "true");
        void reply.header("etag", `"${String(r.view.version)}"`);
        return output(SecretDto, r.view);
      }
      const view = await s.set(actor, ctxOf(req), write);
      void reply.header("etag", `"${String(view.version)}"`);
      return output(SecretDto, view);
    } finally {
      write.value.wipe();
    }
  });

  app.delete<{ Params: SecretParams }>("/v1/secrets/:ownerType/:ownerId/:keyName", async (req) => {
    const expected = ifMatch(req);
    const view = await s.unset(actorOf(req), ctxOf(req), {
      owner: ownerText(req.params),
      key: req.params.keyName,
      ...(expected === undefined ? {} : { expectedVersion: expected }),
    });
    return output(SecretDto, view);
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
        const dto = output(ShareDto, {
          id: link.id,
          token,
          url: `${base}/v1/shared/${token}:reveal`,
          expiresAt: link.expiresAt,
          secret: link.view,
        });
        return reply.code(201).send(dto);
      }
      case "rotate": {
        const view =
          body(RotateSecretBody, req).regenerate === true
            ? await core.generator.regenerate(actor, ctxOf(req), ref)
            : await s.rotate(actor, ctxOf(req), ref);
        return output(SecretDto, view);
      }
      case "generate": {
        const b = body(GenerateBody, req);
        const gen = { ...ref, ...definedOnly(b) };
        const idemKey = req.headers["idempotency-key"];
        const idem = typeof idemKey === "string" && actor.kind === "token" ? { scope: actor.tokenId, key: idemKey } : undefined;
        const r = await core.generator.generate(actor, ctxOf(req), gen, idem);
        if (r.replayed) void reply.header("idempotent-replayed", "true");
        const dto = output(GenerateResultDto, { secret: r.view, created: r.created });
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
    const b = body(RevealOwnerBody, req);
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
    return output(RevealAllDto, { owner, secrets, binary });
  });

  app.post<{ Params: { tail: string } }>("/v1/shared/:tail", { config: { auth: false } }, async (req) => {
    const { name, action } = splitAction(req.params.tail, "token");
    if (action !== "reveal") throw new CofferError("NOT_FOUND", "no such action on a link; use :reveal");
    const r = await s.redeemShare(ctxOf(req), name);
    metrics.reveals.inc({ via: "share" });
    return revealedDto(r);
  });
}
