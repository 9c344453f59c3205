import type { Store } from "../store/index.ts";
import type { AuditLog } from "./audit/audit-log.ts";
import type { KeyManager } from "./scope-keys/key-manager.ts";
import type { StatusPolicy } from "./admin/status/key-status.ts";

/** What a core is built from; never handed to an adapter (not exported by the service index). */
export type CoreInternals = {
  readonly store: Store;
  readonly keys: KeyManager;
  readonly audit: AuditLog;
  readonly policy: Omit<StatusPolicy, "now">;
};

const known = new WeakMap<object, CoreInternals>();

/** Called once by `createCore`. */
export function rememberInternals(core: object, parts: CoreInternals): void {
  known.set(core, parts);
}

/**
 * The store, keys and audit log behind a core, for the service tests that look at stored rows
 * or build a service with a test seam (a fixed clock). Not exported by `index.ts`: adapters and
 * `bench/` use the facade. @throws Error for an object `createCore` did not make.
 */
export function internals(core: object): CoreInternals {
  const parts = known.get(core);
  if (parts === undefined) throw new Error("not a core made by createCore");
  return parts;
}
