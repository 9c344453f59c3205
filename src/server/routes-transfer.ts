import type { FastifyInstance, FastifyRequest } from "fastify";
import { EXPORT_PATH, ExportQuery, IMPORT_PATH, ImportBody, ImportSummaryDto } from "../contract/index.ts";
import { CofferError, invalidInput } from "../core/errors/index.ts";
import { Secret } from "../core/secret/index.ts";
import type { Core } from "../core/service/index.ts";
import { checkRecipient, readImportSource, sealBundle, type BundleSeal } from "../files/index.ts";
import { body, input, output } from "./contract-io.ts";
import type { Metrics } from "./metrics.ts";
import { actorOf, ctxOf } from "./routes-secrets.ts";

/** An import body carries the whole file (base64): larger than the API's usual 256 KiB. */
export const IMPORT_BODY_LIMIT = 64 * 1024 * 1024;

/** A header sent URI-encoded (reasons and passphrases may be non-ASCII). */
function header(req: FastifyRequest, name: string): string | undefined {
  const h = req.headers[name];
  if (typeof h !== "string") return undefined;
  try {
    return decodeURIComponent(h);
  } catch {
    throw invalidInput(name, "must be URI-encoded text");
  }
}

function sealOf(req: FastifyRequest, recipient: string | readonly string[] | undefined): BundleSeal {
  const recipients = (typeof recipient === "string" ? [recipient] : (recipient ?? [])).map((r, i) =>
    checkRecipient(r, `recipient.${String(i)}`),
  );
  const passphrase = header(req, "x-coffer-bundle-passphrase");
  if (passphrase !== undefined && recipients.length > 0) throw invalidInput("recipient", "give recipients or a passphrase, not both");
  if (passphrase !== undefined) {
    if (passphrase === "") throw invalidInput("X-Coffer-Bundle-Passphrase", "must not be empty");
    return { kind: "passphrase", passphrase: Secret.fromString(passphrase) };
  }
  if (recipients.length === 0) throw invalidInput("recipient", "give at least one age recipient, or the X-Coffer-Bundle-Passphrase header");
  return { kind: "recipients", recipients };
}

/**
 * `POST /v1/secrets:import` and `GET /v1/secrets:export` (bundle mode). A literal colon in a
 * Fastify path is written `::`. Authorization, audit and rate limits are the service's.
 */
export function transferRoutes(app: FastifyInstance, core: Core, metrics: Metrics): void {
  app.post(IMPORT_PATH.replace(":", "::"), { bodyLimit: IMPORT_BODY_LIMIT }, async (req): Promise<ImportSummaryDto> => {
    const b = body(ImportBody, req);
    await core.secrets.authorizeImport(actorOf(req), ctxOf(req), b.owner ?? null);
    const passphrase = b.passphrase === undefined ? null : Secret.fromString(b.passphrase);
    const opts = { allowPlaintext: b.allowPlaintext ?? false, identities: b.identities ?? [], passphrase, path: null };
    const src = await readImportSource(Buffer.from(b.content, "base64"), b.format, opts).finally(() => passphrase?.wipe());
    try {
      const owner = b.owner ?? src.manifest?.owner;
      if (owner === undefined) throw invalidInput("owner", "is required (only a bundle names its own owner)");
      const entries = src.entries;
      const summary = await core.secrets.importMany(actorOf(req), ctxOf(req), {
        owner,
        mode: b.mode ?? "merge",
        entries,
        source: src.format,
      });
      return output(ImportSummaryDto, summary);
    } finally {
      for (const e of src.entries) e.value.wipe();
    }
  });

  app.get(EXPORT_PATH.replace(":", "::"), async (req, reply) => {
    const q = input(ExportQuery, req.query, "query");
    const reason = header(req, "x-coffer-reason") ?? q.reason;
    if (reason === undefined)
      throw new CofferError("INVALID_INPUT", "reason: is required (X-Coffer-Reason header or reason query)", { field: "reason" });
    const seal = sealOf(req, q.recipient);
    const what = { owner: q.owner, reason, ...(q.prefix === undefined ? {} : { prefix: q.prefix }) };
    const entries = await core.secrets.exportValues(actorOf(req), ctxOf(req), what);
    let bundle: string;
    try {
      metrics.reveals.inc({ via: "export" }, entries.length);
      bundle = await sealBundle({ owner: q.owner, createdAt: new Date().toISOString(), prefix: q.prefix ?? null, entries }, seal);
    } finally {
      for (const e of entries) e.value.wipe();
      if (seal.kind === "passphrase") seal.passphrase.wipe();
    }
    return reply
      .header("content-type", "text/plain; charset=utf-8")
      .header("content-disposition", 'attachment; filename="coffer-bundle.age"')
      .header("x-coffer-bundle-count", String(entries.length))
      .send(bundle);
  });
}
