import { CofferError } from "../../errors/index.ts";
import { formatOwner, ownerFromColumns, ownerIdColumn, type Owner } from "../../model/index.ts";
import { secretRepo, type Executor } from "../../store/index.ts";
import type { SecretRef } from "./secret-inputs.ts";
import { corruptRow } from "./stored-row.ts";
import type { SecretStateMac } from "./secret-state.ts";

/** An owner as the columns that store it. */
export function cols(owner: Owner): secretRepo.OwnerColumns {
  return { ownerType: owner.kind, ownerId: ownerIdColumn(owner) };
}

/** @throws CofferError STORE_CORRUPT naming the `secrets` row when its owner columns are invalid. */
export function ownerOf(r: secretRepo.SecretRow): Owner {
  try {
    return ownerFromColumns(r.owner_type, r.owner_id);
  } catch (e) {
    if (e instanceof CofferError && e.code === "STORE_CORRUPT")
      throw corruptRow({ table: "secrets", row: r.id }, "owner_type, owner_id", "is not a valid owner");
    throw e;
  }
}

export function notFound(ref: SecretRef): CofferError {
  return new CofferError("NOT_FOUND", `no secret ${ref.name} for ${formatOwner(ref.owner)}`, { key: ref.name });
}

/**
 * A live (not deleted) secret and one of its versions (the current one when `version` is null).
 * The row's state MAC is checked first (a deleted marker is believed only once it verifies),
 * and the current version's row must exist.
 * @throws CofferError NOT_FOUND for a missing or deleted secret, or a missing or destroyed
 * version; STATE_TAMPERED when the row's state does not verify or its current version is gone.
 */
export function findLive(
  db: Executor,
  ref: SecretRef,
  version: number | null,
  state: SecretStateMac,
): Promise<{ row: secretRepo.SecretRow; version: secretRepo.VersionRow }> {
  return findLiveWith(db, ref, version, state, secretRepo.findVersion);
}

/** {@link findLive} reading only the version's columns that opening it needs (reveals). */
export function findLiveSealed(
  db: Executor,
  ref: SecretRef,
  version: number | null,
  state: SecretStateMac,
): Promise<{ row: secretRepo.SecretRow; version: secretRepo.SealedVersionRow }> {
  return findLiveWith(db, ref, version, state, secretRepo.findSealedVersion);
}

async function findLiveWith<V extends Pick<secretRepo.VersionRow, "version" | "destroyed_at">>(
  db: Executor,
  ref: SecretRef,
  version: number | null,
  state: SecretStateMac,
  readVersion: (db: Executor, secretId: number, version: number) => Promise<V | null>,
): Promise<{ row: secretRepo.SecretRow; version: V }> {
  const row = await secretRepo.findSecret(db, cols(ref.owner), ref.name);
  if (row === null) throw notFound(ref);
  const v = await readVersion(db, row.id, version ?? row.current_version);
  // A missing current version is refused by the state check (STATE_TAMPERED): the row's MAC names it.
  if (version === null) await state.checkCurrent(db, row, v);
  else await state.check(db, row);
  if (row.deleted_at !== null) throw notFound(ref);
  if (v === null || v.destroyed_at !== null) {
    throw new CofferError("NOT_FOUND", `${ref.name} has no version ${String(version)}`, { key: ref.name, version: version ?? 0 });
  }
  return { row, version: v };
}
