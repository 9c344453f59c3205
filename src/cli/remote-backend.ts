import { setTimeout as sleep } from "node:timers/promises";
import { CODES, CofferError, type ErrorCode } from "../core/errors/index.ts";
import { Secret } from "../core/secret/index.ts";
import type { SecretView, TemplateText, TemplateView } from "../core/service/index.ts";
import { decodeValue, encodeValue, type RevealedDto } from "../contract/index.ts";
import { CofferClient } from "../sdk/index.ts";
import type { Backend, KeysRotated, KeysRotateRequest } from "./backend.ts";

function secretOf(dto: RevealedDto): Secret {
  return Secret.adopt(decodeValue(dto));
}

function viewOf(dto: RevealedDto): SecretView {
  // Same key order as local mode's view: `value` keeps its place.
  const view: Record<string, unknown> & SecretView = { ...dto, value: "********" };
  delete view["valueBase64"];
  return view;
}

/** An SDK error as the CofferError local mode would have thrown: same code, same exit status. */
export function fromApiError(e: unknown): unknown {
  if (typeof e !== "object" || e === null || (e as { name?: unknown }).name !== "CofferApiError") return e;
  const { code, message } = e as { code: string; message: string };
  const known = (CODES as readonly string[]).includes(code) ? (code as ErrorCode) : "SERVER_UNAVAILABLE";
  return new CofferError(known, message);
}

/** How often, and how many times without progress, `keys rotate` asks the server how its job is going. */
const POLL_MS = 250;
const POLLS_WITHOUT_PROGRESS = 240;

/**
 * The server rotates in the background (202); this waits for the job, reporting progress,
 * and gives up waiting (CONFLICT, the job goes on) when it stops moving for a minute.
 */
async function rotateRemote(c: CofferClient, r: KeysRotateRequest): Promise<KeysRotated> {
  if (r.backupRetentionMs !== undefined)
    throw new CofferError("USAGE", "--backup-retention: in remote mode the server's COFFER_BACKUP_RETENTION applies; leave it out");
  const started = await c.rotateEncryption({
    batchSize: r.batchSize,
    ...(r.kid === undefined ? {} : { kid: r.kid }),
    ...(r.toKid === undefined ? {} : { toKid: r.toKid }),
    ...(r.resume ? { resume: true } : {}),
  });
  let { done, total } = started;
  let state: string = started.state;
  for (let idle = 0; state !== "done";) {
    r.onProgress({ jobId: started.jobId, toKid: started.toKid, done, total });
    if (idle >= POLLS_WITHOUT_PROGRESS)
      throw new CofferError(
        "CONFLICT",
        `rotation ${started.jobId} to ${started.toKid} is still running on the server (${String(done)}/${String(total)} keys); follow it with: coffer keys status`,
      );
    await sleep(POLL_MS);
    const job = (await c.encryptionStatus()).rotationJobs.find((j) => j.id === started.jobId);
    if (job === undefined) break;
    idle = job.done === done ? idle + 1 : 0;
    ({ done, total, state } = job);
  }
  r.onProgress({ jobId: started.jobId, toKid: started.toKid, done, total });
  return {
    jobId: started.jobId,
    fromKid: started.fromKid,
    toKid: started.toKid,
    minted: started.minted,
    resumed: false,
    done,
    total,
    rewrappedScopeKeys: null,
    rewrappedInternalKeys: null,
    oldKidSafeToRetireAt: started.oldKidSafeToRetireAt,
  };
}

/** Remote mode: every call through the SDK; SDK errors become the CofferErrors local mode throws. */
export function remoteBackend(baseUrl: string, token: string, reauth: string | undefined): Backend {
  const c = new CofferClient({ baseUrl, token, reauth });
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw fromApiError(e);
    }
  };
  return {
    mode: "remote",
    set: (i) =>
      call(async () => {
        const bytes = i.value.reveal();
        try {
          const enc = encodeValue(bytes);
          const body: { value: string } | { valueBase64: string } =
            enc.value !== null ? { value: enc.value } : { valueBase64: enc.valueBase64 ?? "" };
          const put: Record<string, unknown> & SecretView = await c.putSecret(
            i.owner,
            i.key,
            { ...body, ...(i.meta === undefined ? {} : { meta: i.meta }) },
            {
              ...(i.expectedVersion === undefined ? {} : { ifMatch: i.expectedVersion }),
            },
          );
          delete put["replayed"];
          return put;
        } finally {
          bytes.fill(0);
        }
      }),
    get: (r) => call(() => c.getSecret(r.owner, r.key, r.version === undefined ? {} : { version: r.version })),
    reveal: (r) =>
      call(async () => {
        const dto = await c.revealSecret(r.owner, r.key, { reason: r.reason, ...(r.version === undefined ? {} : { version: r.version }) });
        return { view: viewOf(dto), value: secretOf(dto) };
      }),
    unset: (r) => call(() => c.deleteSecret(r.owner, r.key, r.expectedVersion === undefined ? {} : { ifMatch: r.expectedVersion })),
    listAll: (q) =>
      call(async () => {
        const out: SecretView[] = [];
        for await (const s of c.iterateSecrets({
          ...(q.owner === undefined ? {} : { owner: q.owner }),
          ...(q.prefix === undefined ? {} : { prefix: q.prefix }),
          deleted: q.includeDeleted,
          limit: 1000,
        }))
          out.push(s);
        return out;
      }),
    history: (r) => call(() => c.listVersions(r.owner, r.key)),
    rotate: (r) => call(() => c.rotateSecret(r.owner, r.key)),
    generate: ({ owner, key, ...body }) =>
      call(async () => {
        const r = await c.generateSecret(owner, key, body);
        return { view: r.secret, created: r.created };
      }),
    regenerate: (r) => call(() => c.rotateSecret(r.owner, r.key, { regenerate: true })),
    templates: {
      put: (t) => call(async () => ({ ...(await c.putTemplate(t.owner, t.name, t.text)) }) as TemplateView),
      get: (t) => call(async () => (await c.getTemplate(t.owner, t.name)) as TemplateText),
      list: (owner) => call(async () => (await c.listTemplates(owner)) as readonly TemplateView[]),
      delete: (t) => call(() => c.deleteTemplate(t.owner, t.name)),
      render: ({ owner, name, ...opts }) => call(() => c.renderTemplate(owner, name, opts)),
    },
    revealAll: (q) =>
      call(async () => {
        const dto = await c.revealOwner(q.owner, { reason: q.reason, ...(q.prefix === undefined ? {} : { prefix: q.prefix }) });
        const out = new Map<string, Secret | null>(Object.entries(dto.secrets).map(([k, v]) => [k, Secret.fromString(v)]));
        for (const k of dto.binary) out.set(k, null);
        return out;
      }),
    auditList: (f) =>
      call(async () => {
        const page = await c.listAudit({
          ...(f.owner === null ? {} : { owner: f.owner }),
          ...(f.action === null ? {} : { action: f.action }),
          ...(f.actor === null ? {} : { actor: f.actor }),
          ...(f.since === null ? {} : { since: f.since }),
          ...(f.until === null ? {} : { until: f.until }),
          order: f.order,
          after: f.afterSeq,
          limit: f.limit,
        });
        return page.items;
      }),
    auditVerify: (anchor) => call(() => c.verifyAudit(anchor === null ? {} : { anchor })),
    // The file goes to the server as it is; a SOPS file or bundle is opened there, with the
    // identities or passphrase sent along (docs/import-export.md, "Remote mode").
    importSecrets: (r) =>
      call(() =>
        c.importSecrets({
          ...(r.owner === null ? {} : { owner: r.owner }),
          mode: r.mode,
          format: r.format,
          content: Buffer.from(r.content).toString("base64"),
          allowPlaintext: r.allowPlaintext,
          ...(r.format === "sops" || r.format === "bundle" ? { identities: r.identities } : {}),
          ...(r.passphrase === null ? {} : { passphrase: r.passphrase.revealText() }),
        }),
      ),
    exportBundle: (r) =>
      call(async () => {
        const seal = r.seal.kind === "recipients" ? { recipients: r.seal.recipients } : { passphrase: r.seal.passphrase.revealText() };
        return c.exportBundle(r.owner, {
          reason: r.reason,
          ...(r.prefix === undefined ? {} : { prefix: r.prefix }),
          ...seal,
        });
      }),
    checkValues: (q) => call(() => c.checkValues(q)),
    tokens: {
      create: (t) =>
        call(async () => {
          const { token, ...view } = await c.createToken({
            name: t.name,
            scopes: t.scopes,
            owners: t.owners,
            ...(t.ttl === undefined || t.ttl === null ? {} : { ttl: t.ttl }),
            ...(t.interactive === undefined ? {} : { interactive: t.interactive }),
          });
          return { token: Secret.fromString(token), view };
        }),
      list: () => call(() => c.listTokens()),
      revoke: (id) => call(() => c.revokeToken(id)),
    },
    keys: {
      status: () => call(() => c.encryptionStatus()),
      rotate: (r) => call(() => rotateRemote(c, r)),
      rekey: (owner) => call(() => c.rekeyOwner(owner)),
      retire: (kid) => call(() => c.retireKey(kid)),
    },
    erase: (e) =>
      call(() =>
        c.eraseOwner({
          owner: e.owner,
          confirm: e.confirm,
          ...(e.backupRetention === undefined ? {} : { backupRetention: e.backupRetention }),
        }),
      ),
  };
}
