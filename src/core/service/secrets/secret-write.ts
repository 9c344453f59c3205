import type { Effects } from "../../crypto/index.ts";
import { CofferError } from "../../errors/index.ts";
import { ownerIdColumn, type KeyName, type Owner } from "../../model/index.ts";
import type { Secret } from "../../secret/index.ts";
import { secretRepo, type Executor } from "../../store/index.ts";
import type { ScopeKey } from "../scope-keys/key-manager.ts";
import { sealToColumns, type SealedColumns } from "./sealing.ts";
import type { SecretStateMac } from "./secret-state.ts";
import { cols } from "./secret-lookup.ts";

/**
 * The secret's row, created (at version 0) when absent, and locked for this transaction: the
 * first step of every write of a new version (`set`, `importMany`, the legacy import).
 */
export async function lockOrCreate(tx: Executor, owner: Owner, name: KeyName, now: string): Promise<secretRepo.SecretRow> {
  // Most writes are a new version of an existing secret: lock it first, and only when it is
  // absent try the insert (which a concurrent creator may win) and lock again.
  const existing = await secretRepo.lockSecret(tx, cols(owner), name);
  if (existing !== null) return existing;
  await secretRepo.insertSecretIfAbsent(tx, {
    owner_type: owner.kind,
    owner_id: ownerIdColumn(owner),
    key_name: name,
    current_version: 0,
    meta: "{}",
    created_at: now,
    updated_at: now,
    last_rotated_at: null,
    deleted_at: null,
  });
  const row = await secretRepo.lockSecret(tx, cols(owner), name);
  if (row === null) throw new CofferError("INTERNAL", "secret row vanished inside its own transaction");
  return row;
}

export type NewVersion = {
  readonly owner: Owner;
  readonly name: KeyName;
  readonly value: Secret;
  /** New metadata, or null to keep the row's. */
  readonly meta: Readonly<Record<string, string>> | null;
  readonly scope: ScopeKey;
  readonly by: string;
  readonly now: string;
  readonly fx: Effects;
  /** MACs the row's new state and the plaintext. */
  readonly state: SecretStateMac;
  /** Checks the sealed columns before anything is written (a legacy import opens them again). @throws to write nothing. */
  readonly verify?: (sealed: SealedColumns, place: { readonly owner: Owner; readonly name: KeyName; readonly version: number }) => void;
};

/**
 * Seals `value` as the version after the row's current one (versions only grow, across
 * deletes too), makes it current and live, with the row's new state MAC and the plaintext's
 * HMAC. @returns the row as it now is.
 */
export async function appendVersion(tx: Executor, row: secretRepo.SecretRow, w: NewVersion): Promise<secretRepo.SecretRow> {
  // A row that was written before (or carries a MAC) must verify: never write on top of tampering.
  if (row.state_mac !== null || row.current_version > 0) await w.state.check(tx, row);
  const version = row.current_version + 1;
  const sealed = sealToColumns(w.scope.key, w.value, { owner: w.owner, name: w.name, version, scopeKeyId: w.scope.id }, w.fx);
  w.verify?.(sealed, { owner: w.owner, name: w.name, version });
  const meta = w.meta === null ? row.meta : JSON.stringify(w.meta);
  const written = await w.state.write(tx, row, { current_version: version, meta, updated_at: w.now, deleted_at: null });
  await secretRepo.insertVersion(tx, {
    secret_id: row.id,
    version,
    ...sealed,
    ...(await w.state.valueHmac(tx, w.value)),
    created_at: w.now,
    created_by: w.by,
    destroyed_at: null,
  });
  return written;
}
