import { LOCAL_CONTEXT, type Actor, type Core, type ImportSummary } from "../core/service/index.ts";
import { exportBundle, importFile, type ExportedBundle, type ExportRequest, type ImportRequest } from "../transfer/index.ts";

export type { ExportedBundle, ExportRequest, ImportRequest } from "../transfer/index.ts";

/** Local mode's import: the shared implementation (transfer/), as the local actor. */
export function importLocal(core: Core, actor: Actor, r: ImportRequest): Promise<ImportSummary> {
  return importFile(core, actor, LOCAL_CONTEXT, r);
}

/** Local mode's bundle export: the shared implementation (transfer/), as the local actor. */
export function exportLocal(core: Core, actor: Actor, r: ExportRequest): Promise<ExportedBundle> {
  return exportBundle(core, actor, LOCAL_CONTEXT, r);
}
