/**
 * Request and response schemas of the administrative endpoints the CLI's remote mode added
 * (`coffer keys rekey|retire`, `coffer erase`, `coffer secrets check`): all need the `admin`
 * scope, and each is audited, its refusals too.
 */
import * as z from "zod/mini";

const TEXT = "must be text";

/** `POST /v1/admin/encryption/retire`: marks a kid retired; refused while anything depends on it. */
export const RetireKidBody = z.object({ kid: z.string(TEXT) });
export type RetireKidRequestDto = z.infer<typeof RetireKidBody>;
export type RetireKidDto = { readonly kid: string; readonly retiredAt: string };

/** `POST /v1/admin/encryption/rekey`: a new scope key for `owner`, every data key rewrapped under it. */
export const RekeyOwnerBody = z.object({ owner: z.string(TEXT) });
export type RekeyOwnerRequestDto = z.infer<typeof RekeyOwnerBody>;
export type RekeyOwnerDto = {
  readonly owner: string;
  readonly scopeKeyId: string;
  readonly rewrapped: number;
  readonly retiredScopeKeys: number;
};

/**
 * `POST /v1/admin/erase`: crypto-erase of `owner`; `confirm` must repeat the owner exactly.
 * `backupRetention` (`30d`, `12h`, `90m`): how long database backups are kept, for the report
 * (default: the server's `COFFER_BACKUP_RETENTION`).
 */
export const EraseOwnerBody = z.object({
  owner: z.string(TEXT),
  confirm: z.string(TEXT),
  backupRetention: z.optional(z.string(TEXT)),
});
export type EraseOwnerRequestDto = z.infer<typeof EraseOwnerBody>;
export type EraseReportDto = {
  readonly owner: string;
  readonly erasedAt: string;
  readonly secrets: number;
  readonly versions: number;
  readonly scopeKeys: number;
  readonly kids: readonly string[];
  readonly liveDatabase: string | null;
  readonly scrub: { readonly complete: boolean; readonly detail: string };
  readonly backups: {
    readonly backupRetention: string | null;
    readonly agedOutAt: string | null;
    readonly kidRetiredAt: string | null;
    readonly unrecoverableEverywhereAt: string | null;
  };
};

/** `GET /v1/admin/value-check?owner=`: stored value HMACs compared without decrypting. */
export const ValueCheckQuery = z.object({ owner: z.optional(z.string(TEXT)) });
type CheckedSecretDto = { readonly owner: string; readonly key: string; readonly version: number };
export type ValueCheckDto = {
  readonly secrets: number;
  readonly reused: readonly { readonly secrets: readonly CheckedSecretDto[] }[];
  readonly drift: readonly { readonly key: string; readonly owners: readonly string[]; readonly distinctValues: number }[];
  readonly unchecked: readonly CheckedSecretDto[];
};

export const RETIRE_PATH = "/v1/admin/encryption/retire";
export const REKEY_PATH = "/v1/admin/encryption/rekey";
export const ERASE_PATH = "/v1/admin/erase";
export const VALUE_CHECK_PATH = "/v1/admin/value-check";
