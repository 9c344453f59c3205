import { invalidInput } from "../core/errors/index.ts";
import type { Secret } from "../core/secret/index.ts";
import type { Actor, Core, ImportMode, ImportSummary, RequestContext } from "../core/service/index.ts";
import { readImportSource, sealBundle, type BundleSeal, type ImportFormat } from "../files/index.ts";

/** An import as an adapter hands it over: the file's bytes and what opens them. */
export type ImportRequest = {
  readonly owner: string | null;
  readonly mode: ImportMode;
  readonly format: ImportFormat;
  readonly content: Uint8Array;
  readonly allowPlaintext: boolean;
  readonly identities: readonly string[];
  readonly passphrase: Secret | null;
  /** The file's path, to name it in errors (null over HTTP). */
  readonly path: string | null;
};

export type ExportRequest = { readonly owner: string; readonly prefix?: string; readonly reason: string; readonly seal: BundleSeal };
export type ExportedBundle = { readonly bundle: string; readonly count: number };

/** The one message for an import that names no owner, wherever it is made (CLI, remote CLI, HTTP). */
export const MISSING_OWNER_RULE = "is required (only a bundle names its own owner)";

/**
 * `secrets import` (local) and `POST /v1/secrets:import`: the `secrets:write` gate first (before
 * any work decrypting the source; refusals audited), then the file is read and decrypted, its
 * owner settled (`owner` or the bundle's own), and every entry written in ONE transaction by
 * `importMany`. The decrypted values are wiped whatever happens; `r.passphrase` is the caller's.
 * @throws CofferError SCOPE_DENIED, INVALID_INPUT (owner, file), whatever `importMany` throws.
 */
export async function importFile(core: Core, actor: Actor, ctx: RequestContext, r: ImportRequest): Promise<ImportSummary> {
  await core.secrets.authorizeImport(actor, ctx, r.owner);
  const src = await readImportSource(r.content, r.format, r);
  try {
    const owner = r.owner ?? src.manifest?.owner;
    if (owner === undefined) throw invalidInput("owner", MISSING_OWNER_RULE);
    return await core.secrets.importMany(actor, ctx, { owner, mode: r.mode, entries: src.entries, source: src.format });
  } finally {
    for (const e of src.entries) e.value.wipe();
  }
}

/**
 * `secrets export` (bundle) and `GET /v1/secrets:export`: every live value of the owner revealed
 * (each reveal audited, `via: export`), sealed into an age bundle, then wiped. `revealed` is told
 * how many values were revealed, before sealing (the server counts them in its metrics).
 * @throws CofferError whatever `exportValues` and `sealBundle` throw.
 */
export async function exportBundle(
  core: Core,
  actor: Actor,
  ctx: RequestContext,
  r: ExportRequest,
  revealed?: (count: number) => void,
): Promise<ExportedBundle> {
  const q = { owner: r.owner, reason: r.reason, ...(r.prefix === undefined ? {} : { prefix: r.prefix }) };
  const entries = await core.secrets.exportValues(actor, ctx, q);
  try {
    revealed?.(entries.length);
    const createdAt = new Date().toISOString();
    const bundle = await sealBundle({ owner: r.owner, createdAt, prefix: r.prefix ?? null, entries }, r.seal);
    return { bundle, count: entries.length };
  } finally {
    for (const e of entries) e.value.wipe();
  }
}
