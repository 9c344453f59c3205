import type { FastifyInstance } from "fastify";
import { PutTemplateBody, RenderTemplateBody, TemplateDto, TemplateList, TemplateTextDto } from "../contract/index.ts";
import { CofferError } from "../core/errors/index.ts";
import type { Core } from "../core/service/index.ts";
import { templateContentType } from "../core/template/index.ts";
import type { Metrics } from "./metrics.ts";
import { body, output } from "./contract-io.ts";
import { actorOf, ctxOf, ownerText, splitAction } from "./routes-secrets.ts";

type OwnerParams = { ownerType: string; ownerId: string };

/** Stored templates: the text per owner (`secrets:write` to store, `secrets:read` to read), and `:render`. */
export function templateRoutes(app: FastifyInstance, core: Core, metrics: Metrics): void {
  const t = core.templates;
  const ref = (p: OwnerParams & { name: string }): { owner: string; name: string } => ({ owner: ownerText(p), name: p.name });

  app.get<{ Params: OwnerParams }>("/v1/templates/:ownerType/:ownerId", async (req) =>
    output(TemplateList, { items: await t.list(actorOf(req), ctxOf(req), { owner: ownerText(req.params) }) }),
  );

  app.get<{ Params: OwnerParams & { name: string } }>("/v1/templates/:ownerType/:ownerId/:name", async (req): Promise<TemplateTextDto> =>
    output(TemplateTextDto, await t.get(actorOf(req), ctxOf(req), ref(req.params))),
  );

  app.put<{ Params: OwnerParams & { name: string } }>("/v1/templates/:ownerType/:ownerId/:name", async (req): Promise<TemplateDto> =>
    output(TemplateDto, await t.put(actorOf(req), ctxOf(req), { ...ref(req.params), text: body(PutTemplateBody, req).text })),
  );

  app.delete<{ Params: OwnerParams & { name: string } }>("/v1/templates/:ownerType/:ownerId/:name", async (req, reply) => {
    await t.delete(actorOf(req), ctxOf(req), ref(req.params));
    return reply.code(204).send();
  });

  // `NAME:render`: the rendered bytes, with the format's content type; each reference an audited reveal.
  app.post<{ Params: OwnerParams & { action: string } }>("/v1/templates/:ownerType/:ownerId/:action", async (req, reply) => {
    const { name, action } = splitAction(req.params.action, "name");
    if (action !== "render") throw new CofferError("NOT_FOUND", `no action '${action}' on a template; use :render`);
    const b = body(RenderTemplateBody, req);
    const r = await t.render(actorOf(req), ctxOf(req), {
      ...ref({ ...req.params, name }),
      ...(b.reason === undefined ? {} : { reason: b.reason }),
      ...(b.format === undefined ? {} : { format: b.format }),
    });
    metrics.reveals.inc({ via: "template" }, r.references);
    return reply.header("content-type", templateContentType(r.format)).header("cache-control", "no-store").send(Buffer.from(r.bytes));
  });
}
