import { CofferError } from "../core/errors/index.ts";
import type { Secret } from "../core/secret/index.ts";
import { LOCAL_CONTEXT, type Actor, type Core, type ImportMode, type ImportSummary } from "../core/service/index.ts";
import { readImportSource, sealBundle, type BundleSeal, type ImportFormat } from "../files/index.ts";

/** An import as the CLI hands it to a backend: the file's bytes and what opens them. */
export type ImportRequest = {
  readonly owner: string | null;
  readonly mode: ImportMode;
  readonly format: ImportFormat;
  readonly content: Uint8Array;
  readonly allowPlaintext: boolean;
  readonly identities: readonly string[];
  readonly passphrase: Secret | null;
  readonly path: string | null;
};

export type ExportRequest = { readonly owner: string; readonly prefix?: string; readonly reason: string; readonly seal: BundleSeal };
export type ExportedBundle = { readonly bundle: string; readonly count: number };

/** Local mode's import: read the source here, then one `importMany` (one transaction). */
export async function importLocal(core: Core, actor: Actor, r: ImportRequest): Promise<ImportSummary> {
  const src = await readImportSource(r.content, r.format, r);
  try {
    const owner = r.owner ?? src.manifest?.owner;
    if (owner === undefined) throw new CofferError("USAGE", "missing --owner <owner> (only a bundle names its own owner)");
    return await core.secrets.importMany(actor, LOCAL_CONTEXT, { owner, mode: r.mode, entries: src.entries, source: src.format });
  } finally {
    for (const e of src.entries) e.value.wipe();
  }
}

/** Local mode's bundle export: every value revealed (audited), sealed, wiped. */
export async function exportLocal(core: Core, actor: Actor, r: ExportRequest): Promise<ExportedBundle> {
  const q = { owner: r.owner, reason: r.reason, ...(r.prefix === undefined ? {} : { prefix: r.prefix }) };
  const entries = await core.secrets.exportValues(actor, LOCAL_CONTEXT, q);
  try {
    const createdAt = new Date().toISOString();
    const bundle = await sealBundle({ owner: r.owner, createdAt, prefix: r.prefix ?? null, entries }, r.seal);
    return { bundle, count: entries.length };
  } finally {
    for (const e of entries) e.value.wipe();
  }
}
