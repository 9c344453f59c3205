/**
 * The HTTP API's wire types (v1), shared by the server and the SDK so the two cannot drift.
 * Types, tiny helpers and (owner-admin.ts) zod request schemas: this module runs in browsers too.
 */

/** A secret as every non-reveal endpoint returns it: metadata and a mask, never the value. */
export type SecretDto = {
  readonly owner: string;
  readonly key: string;
  readonly version: number;
  readonly value: "********";
  readonly meta: Readonly<Record<string, string>>;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly lastRotatedAt: string | null;
  readonly deletedAt: string | null;
};

/** A revealed secret: `value` when the bytes are UTF-8, otherwise `valueBase64`. */
export type RevealedDto = Omit<SecretDto, "value"> & { readonly value: string | null; readonly valueBase64?: string };

export type VersionDto = {
  readonly version: number;
  readonly current: boolean;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly destroyedAt: string | null;
};

export type SecretPage = { readonly items: readonly SecretDto[]; readonly nextCursor: string | null };

/** `POST /v1/secrets/:ownerType/:ownerId:reveal`: every live secret of an owner, for `coffer run`. */
export type RevealAllDto = {
  readonly owner: string;
  readonly secrets: Readonly<Record<string, string>>;
  readonly binary: readonly string[];
};

export type ShareDto = {
  readonly id: string;
  /** The one-time token: give it to the recipient; `POST /v1/shared/<token>:reveal` redeems it. */
  readonly token: string;
  readonly url: string;
  readonly expiresAt: string;
  readonly secret: SecretDto;
};

export type TokenDto = {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly owners: readonly string[];
  readonly interactive: boolean;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly expiresAt: string | null;
  readonly lastUsedAt: string | null;
  readonly revokedAt: string | null;
};

/** `POST /v1/tokens`: the only response that ever carries the token itself. */
export type CreatedTokenDto = TokenDto & { readonly token: string };

export type AuditEventDto = {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly owner: string | null;
  readonly key: string | null;
  readonly version: number | null;
  readonly outcome: string;
  readonly reason: string | null;
  readonly requestId: string | null;
  readonly details: Readonly<Record<string, unknown>>;
  /** The event's chain MAC, hex: a head to record outside the database (`coffer audit verify --anchor seq:mac`). */
  readonly mac: string;
};

export type AuditPage = { readonly items: readonly AuditEventDto[]; readonly nextCursor: string | null };

export type AuditVerificationDto = {
  readonly ok: boolean;
  readonly events: number;
  readonly headSeq: number;
  readonly headMac: string;
  readonly problems: readonly { readonly seq: number; readonly problem: string }[];
};

/** RFC 9457 problem details, with Coffer's stable error `code`. */
export type Problem = {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly requestId?: string;
  readonly field?: string;
  readonly retryAfter?: number;
};

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** An owner (`user/alice`, `project/acme`, `system`) as the two path segments of the API. */
export function ownerSegments(owner: string): { readonly ownerType: string; readonly ownerId: string } {
  if (owner === "system") return { ownerType: "system", ownerId: "_" };
  const slash = owner.indexOf("/");
  return slash < 0 ? { ownerType: owner, ownerId: "" } : { ownerType: owner.slice(0, slash), ownerId: owner.slice(slash + 1) };
}

/** The API path of one secret. */
export function secretPath(owner: string, key: string): string {
  const { ownerType, ownerId } = ownerSegments(owner);
  return `/v1/secrets/${encodeURIComponent(ownerType)}/${encodeURIComponent(ownerId)}/${encodeURIComponent(key)}`;
}

/** The API path of an owner (for its `:reveal` action). */
export function ownerPath(owner: string): string {
  const { ownerType, ownerId } = ownerSegments(owner);
  return `/v1/secrets/${encodeURIComponent(ownerType)}/${encodeURIComponent(ownerId)}`;
}

/** `POST /v1/secrets:import`. */
export const IMPORT_PATH = "/v1/secrets:import";
/** `GET /v1/secrets:export` (bundle mode: the armored age bundle, `text/plain`). */
export const EXPORT_PATH = "/v1/secrets:export";

/**
 * The body of `POST /v1/secrets:import`. `content` is the file, base64. `dotenv`, `json` and
 * `yaml` are plaintext and need `allowPlaintext: true`. A `sops` file or a `bundle` is opened ON
 * THE SERVER with `identities` (age secret keys) or, for a passphrase bundle, `passphrase`:
 * the server holds them in memory for this request only, never stores or logs them.
 */
export type ImportRequestDto = {
  /** The target; default for a bundle: the owner in its manifest. */
  readonly owner?: string;
  /** `merge` (default): upsert the given keys; `replace`: the owner holds exactly these keys afterwards. */
  readonly mode?: "merge" | "replace";
  readonly format: "dotenv" | "json" | "yaml" | "sops" | "bundle";
  readonly content: string;
  readonly allowPlaintext?: boolean;
  readonly identities?: readonly string[];
  readonly passphrase?: string;
};

/** What an import wrote: names and versions only. */
export type ImportSummaryDto = {
  readonly owner: string;
  readonly mode: "merge" | "replace";
  readonly imported: number;
  readonly updated: number;
  readonly deleted: readonly string[];
  readonly secrets: readonly { readonly key: string; readonly version: number; readonly existed: boolean }[];
};

/**
 * `POST /v1/secrets/:ownerType/:ownerId/:keyName:generate`: a random value from the server's
 * CSPRNG (default 32 `alnum` characters), never returned; its policy is kept in the metadata
 * tag `coffer.generator`. `ifMissing`: create only when the secret does not exist.
 */
export type GenerateRequestDto = {
  readonly length?: number;
  /** `alnum`, `alnum-symbols`, `hex`, `base64url`, `digits` or `custom:<chars>`. */
  readonly charset?: string;
  /** Random bytes instead of characters, encoded with `encoding` (`hex`, `base64`, `base64url`). */
  readonly bytes?: number;
  readonly encoding?: string;
  readonly ifMissing?: boolean;
  readonly meta?: Readonly<Record<string, string>>;
};
/** The secret as it now is, and whether this call created the version (false: `ifMissing` found one). */
export type GenerateResultDto = { readonly secret: SecretDto; readonly created: boolean };

/** A stored template (`/v1/templates/:ownerType/:ownerId/:name`): its text is returned only by GET of one template. */
export type TemplateDto = {
  readonly owner: string;
  readonly name: string;
  /** From the name's extension (`backup.toml` → `toml`); null when it says none. */
  readonly format: string | null;
  readonly references: number | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly updatedBy: string;
};
export type TemplateTextDto = TemplateDto & { readonly text: string };

/** The path of a stored template: `/v1/templates/project/acme/backup.toml` (system owner: `system/_`). */
export function templatePath(owner: string, name: string): string {
  const { ownerType, ownerId } = ownerSegments(owner);
  return `/v1/templates/${encodeURIComponent(ownerType)}/${encodeURIComponent(ownerId)}/${encodeURIComponent(name)}`;
}

export {
  ERASE_PATH,
  EraseOwnerBody,
  REKEY_PATH,
  RETIRE_PATH,
  RekeyOwnerBody,
  RetireKidBody,
  VALUE_CHECK_PATH,
  ValueCheckQuery,
} from "./owner-admin.ts";
export type {
  EraseOwnerRequestDto,
  EraseReportDto,
  RekeyOwnerDto,
  RekeyOwnerRequestDto,
  RetireKidDto,
  RetireKidRequestDto,
  ValueCheckDto,
} from "./owner-admin.ts";
