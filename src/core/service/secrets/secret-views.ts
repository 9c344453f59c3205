import { MASK } from "../../secret/index.ts";
import { formatOwner, isStringRecord, type Owner } from "../../model/index.ts";
import type { secretRepo } from "../../store/index.ts";
import { META_RULE, parseStoredJson, STORED_META } from "./stored-row.ts";

/** What every non-reveal read returns: metadata and a mask, never the value. */
export type SecretView = {
  readonly owner: string;
  readonly key: string;
  /** The version this view is of (`secrets get --version N`: N). */
  readonly version: number;
  /**
   * The secret's current version. Metadata and the times below belong to the secret, not to a
   * version: with `version` older than this, `meta` is still the current one.
   */
  readonly currentVersion: number;
  readonly value: typeof MASK;
  readonly meta: Readonly<Record<string, string>>;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly lastRotatedAt: string | null;
  readonly deletedAt: string | null;
};

export type VersionView = {
  readonly version: number;
  readonly current: boolean;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly destroyedAt: string | null;
};

/**
 * A secret row's `meta`, checked.
 * @throws CofferError STORE_CORRUPT naming the row (table, id, owner and key) when it is not a JSON object of strings.
 */
export function storedMeta(owner: Owner, row: Pick<secretRepo.SecretRow, "id" | "key_name" | "meta">): Record<string, string> {
  return parseStoredJson(
    row.meta,
    STORED_META,
    { table: "secrets", row: row.id, label: `${formatOwner(owner)} ${row.key_name}` },
    "meta",
    META_RULE,
    isStringRecord,
  );
}

export function toSecretView(owner: Owner, row: secretRepo.SecretRow, version = row.current_version): SecretView {
  return {
    owner: formatOwner(owner),
    key: row.key_name,
    version,
    currentVersion: row.current_version,
    value: MASK,
    meta: storedMeta(owner, row),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastRotatedAt: row.last_rotated_at,
    deletedAt: row.deleted_at,
  };
}

export function toVersionView(row: secretRepo.VersionRow, current: number): VersionView {
  return {
    version: row.version,
    current: row.version === current,
    createdAt: row.created_at,
    createdBy: row.created_by,
    destroyedAt: row.destroyed_at,
  };
}
