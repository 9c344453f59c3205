import type { FastifyInstance } from "fastify";
import {
  AuditPage,
  AuditQuery,
  AuditVerificationDto,
  AuditVerifyQuery,
  CreatedTokenDto,
  CreateTokenBody,
  KeyStatusDto,
  RotateEncryptionBody,
  RotationStartedDto,
  TokenDto,
  TokenList,
} from "../contract/index.ts";
import { invalidInput } from "../core/errors/index.ts";
import { parseOwner, parseTimePoint } from "../core/model/index.ts";
import { KekRotation, keyStatus, parseAnchor, type Core, type RotateOptions, type RotationReport } from "../core/service/index.ts";
import { body, input, output } from "./contract-io.ts";
import type { Metrics } from "./metrics.ts";
import { actorOf, ctxOf } from "./routes-secrets.ts";

/** Tokens, the audit log and the encryption admin endpoints. */
export function adminRoutes(app: FastifyInstance, core: Core, metrics: Metrics, background: Set<Promise<unknown>>): void {
  app.post("/v1/tokens", async (req, reply) => {
    const b = body(CreateTokenBody, req);
    const created = await core.tokens.create(actorOf(req), ctxOf(req), b);
    const token = new TextDecoder().decode(created.token.reveal());
    created.token.wipe();
    const dto = output(CreatedTokenDto, { ...created.view, token });
    return reply.code(201).send(dto);
  });

  app.get("/v1/tokens", async (req) => output(TokenList, { items: await core.tokens.list(actorOf(req), ctxOf(req)) }));

  app.delete<{ Params: { id: string } }>("/v1/tokens/:id", async (req) =>
    output(TokenDto, await core.tokens.revoke(actorOf(req), ctxOf(req), req.params.id)),
  );

  app.get("/v1/audit", async (req): Promise<AuditPage> => {
    const q = input(AuditQuery, req.query, "query");
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (limit < 1 || limit > 1000) throw invalidInput("limit", "must be a whole number from 1 to 1000");
    // `cursor` continues in the page order: after it (asc) or before it (desc); `after` is a
    // lower bound in either order.
    const desc = q.order === "desc";
    const cursor = q.cursor === undefined ? null : Number(q.cursor);
    const after = q.after === undefined ? 0 : Number(q.after);
    const now = new Date();
    const page = await core.audit.listAs(actorOf(req), ctxOf(req), {
      owner: q.owner === undefined ? null : parseOwner(q.owner, "owner"),
      action: q.action ?? null,
      afterSeq: desc ? after : Math.max(after, cursor ?? 0),
      beforeSeq: desc ? cursor : null,
      order: desc ? "desc" : "asc",
      limit,
      actor: q.actor ?? null,
      since: q.since === undefined ? null : parseTimePoint(q.since, "since", now),
      until: q.until === undefined ? null : parseTimePoint(q.until, "until", now),
    });
    return output(AuditPage, { items: page.events, nextCursor: page.nextCursor === null ? null : String(page.nextCursor) });
  });

  app.get("/v1/audit/verify", async (req) => {
    const q = input(AuditVerifyQuery, req.query, "query");
    return output(
      AuditVerificationDto,
      await core.audit.verifyAs(actorOf(req), ctxOf(req), q.anchor === undefined ? null : parseAnchor(q.anchor)),
    );
  });

  app.get("/v1/admin/encryption", async (req) => {
    await core.tokens.authorizeAdmin(actorOf(req), ctxOf(req), "admin.encryption.status");
    return output(KeyStatusDto, await keyStatus(core, { ...core.policy, now: new Date() }));
  });

  // Starts a background job that rewraps every scope key under the active kid; progress in
  // GET /v1/admin/encryption and the rotation metrics. Idempotent: a running job is resumed.
  app.post("/v1/admin/encryption/rotate", async (req, reply) => {
    const actor = actorOf(req);
    const ctx = ctxOf(req);
    await core.tokens.authorizeAdmin(actor, ctx, "admin.encryption.rotate");
    const b = body(RotateEncryptionBody, req);
    const batchSize = b.batchSize ?? 500;
    if (batchSize < 1 || batchSize > 10_000) throw invalidInput("batchSize", "must be from 1 to 10000");
    const job = startRotation(core, metrics, background, actor, ctx, {
      batchSize,
      ...(b.kid === undefined ? {} : { kid: b.kid }),
      ...(b.toKid === undefined ? {} : { toKid: b.toKid }),
      ...(b.resume === true ? { resume: true } : {}),
    });
    const first = await job.started;
    return reply.code(202).send(
      output(RotationStartedDto, {
        jobId: first.jobId,
        fromKid: first.fromKid,
        toKid: first.toKid,
        minted: first.minted,
        done: first.done,
        total: first.total,
        state: first.finished ? "done" : "running",
        oldKidSafeToRetireAt: first.oldKidSafeToRetireAt,
      }),
    );
  });
}

/**
 * Runs a KEK rotation in the background and resolves `started` with its first progress report
 * (or its result, when there was nothing to do). The promise is tracked so shutdown waits for
 * the current batch; a crash midway is finished by the next start (see `resumeRotation`).
 */
export function startRotation(
  core: Core,
  metrics: Metrics,
  background: Set<Promise<unknown>>,
  actor: Parameters<KekRotation["rotate"]>[0],
  ctx: Parameters<KekRotation["rotate"]>[1],
  opts: Omit<RotateOptions, "onProgress" | "backupRetentionMs">,
): { readonly started: Promise<StartedRotation>; readonly finished: Promise<RotationReport | null> } {
  let resolveStarted: (p: StartedRotation) => void = () => undefined;
  let rejectStarted: (e: unknown) => void = () => undefined;
  const started = new Promise<StartedRotation>((res, rej) => {
    resolveStarted = res;
    rejectStarted = rej;
  });
  const initial = core.keys.keyring.active.kid;
  const run = new KekRotation(core)
    .rotate(actor, ctx, {
      ...opts,
      backupRetentionMs: core.policy.backupRetentionMs,
      onProgress: (p) => {
        metrics.rotationDone.set(p.done);
        metrics.rotationTotal.set(p.total);
        const moved = p.toKid !== initial;
        resolveStarted({
          ...p,
          fromKid: moved ? initial : null,
          minted: moved && opts.toKid === undefined,
          finished: false,
          oldKidSafeToRetireAt: null,
        });
      },
    })
    .then((r) => {
      metrics.rotationDone.set(r.done);
      metrics.rotationTotal.set(r.total);
      if (r.fromKid !== null && r.fromKid !== r.toKid)
        metrics.rotations.inc({ auto: opts.auto === true ? "true" : "false", minted: String(r.minted) });
      resolveStarted({ ...r, finished: true });
      return r;
    })
    .catch((e: unknown) => {
      metrics.rotationFailures.inc({ auto: opts.auto === true ? "true" : "false" });
      rejectStarted(e);
      return null;
    });
  background.add(run);
  void run.finally(() => background.delete(run));
  return { started, finished: run };
}

export type StartedRotation = {
  readonly jobId: string;
  readonly fromKid: string | null;
  readonly toKid: string;
  readonly minted: boolean;
  readonly done: number;
  readonly total: number;
  readonly finished: boolean;
  readonly oldKidSafeToRetireAt: string | null;
};
