/**
 * Every endpoint of the HTTP API (v1): method, path, the schemas of its parameters, body and
 * answer, and the errors it can give. The OpenAPI document (`GET /v1/openapi.json`,
 * docs/openapi.json) is generated from this table; a test checks it against the server's routes.
 */
import * as z from "zod/mini";
import { KeyNameParam, OwnerIdParam, OwnerTypeParam, doc } from "./common.ts";
import { AuditPage, AuditQuery, AuditVerificationDto, AuditVerifyQuery } from "./audit.ts";
import { KeyStatusDto, RotateEncryptionBody, RotationStartedDto } from "./admin.ts";
import { HealthDto, ReadyDto } from "./ops.ts";
import { EraseOwnerBody, EraseReportDto, RekeyOwnerBody, RekeyOwnerDto, ValueCheckDto, ValueCheckQuery } from "./owner-admin.ts";
import { ERASE_PATH, REKEY_PATH, VALUE_CHECK_PATH } from "./paths.ts";
import {
  GenerateBody,
  GenerateResultDto,
  ListSecretsQuery,
  PutSecretBody,
  RevealAllDto,
  RevealBody,
  RevealedDto,
  RevealOwnerBody,
  RotateSecretBody,
  SecretDto,
  SecretPage,
  ShareBody,
  ShareDto,
  SharedRevealBody,
  VersionList,
  VersionQuery,
} from "./secrets.ts";
import { PutTemplateBody, RenderTemplateBody, TemplateDto, TemplateList, TemplateTextDto } from "./templates.ts";
import { CreatedTokenDto, CreateTokenBody, TokenDto, TokenList } from "./tokens.ts";
import { ExportQuery, ImportBody, ImportSummaryDto } from "./transfer.ts";
import { ConsoleSessionDto, ConsoleSignInBody, OwnerList, RetiredKeyDto, RetireKeyBody } from "./console.ts";

export type HeaderDoc = { readonly name: string; readonly description: string; readonly required?: boolean };

export type Operation = {
  readonly method: "get" | "put" | "post" | "delete";
  /** The OpenAPI path: `{param}` placeholders; an action follows its last segment after a colon (`{keyName}:reveal`). */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly tag: "secrets" | "templates" | "transfer" | "tokens" | "audit" | "admin" | "console" | "operations";
  /** false: no bearer token (health, metrics, one-time links, this document). */
  readonly auth?: false;
  readonly params?: z.ZodMiniObject;
  readonly query?: z.ZodMiniObject;
  readonly headers?: readonly HeaderDoc[];
  readonly body?: z.ZodMiniType;
  readonly ok: {
    readonly status: 200 | 201 | 202 | 204;
    readonly description: string;
    readonly schema?: z.ZodMiniType;
    /** Default application/json. */
    readonly contentType?: string;
    /** Also answered (e.g. 200 besides 201 for a generate that found the secret). */
    readonly alsoStatus?: readonly number[];
    /** Response headers worth knowing (`ETag`, `Idempotent-Replayed`, …). */
    readonly headers?: readonly HeaderDoc[];
  };
  /** Problem statuses besides the ones every endpoint can give (400, 500, 503; with auth 401, 403, 429). */
  readonly errors?: readonly number[];
};

const OwnerParams = z.object({ ownerType: OwnerTypeParam, ownerId: OwnerIdParam });
const SecretParams = z.object({ ...OwnerParams.def.shape, keyName: KeyNameParam });
const TemplateParams = z.object({ ...OwnerParams.def.shape, name: doc(z.string(), "The template's name, e.g. `backup.toml`.") });

const CSRF_HEADER_DOC: HeaderDoc = {
  name: "X-Coffer-CSRF",
  description: "The session's CSRF token (from the session endpoints).",
  required: true,
};
const IF_MATCH: HeaderDoc = {
  name: "If-Match",
  description: 'Check-and-set: the current version must be this one (`"3"`; `"0"`: must not exist).',
};
const IDEMPOTENCY: HeaderDoc = {
  name: "Idempotency-Key",
  description: "Retry-safe writes: the same key and body replay the first answer (`Idempotent-Replayed: true`).",
};
const ETAG: HeaderDoc = { name: "ETag", description: 'The version of the secret answered, `"3"`: send it back as `If-Match`.' };
const REPLAYED: HeaderDoc = {
  name: "Idempotent-Replayed",
  description: "`true` when this answer is the replay of an earlier request with the same Idempotency-Key.",
};
const REAUTH: HeaderDoc = {
  name: "X-Coffer-Reauth",
  description: "Evidence of recent authentication, when the server's re-auth hook asks for one.",
};

export const OPERATIONS: readonly Operation[] = [
  // Secrets
  {
    method: "get",
    path: "/v1/secrets",
    operationId: "listSecrets",
    summary: "List secrets (metadata only), by owner or owner type and key prefix",
    tag: "secrets",
    query: ListSecretsQuery,
    ok: { status: 200, description: "A page of secrets.", schema: SecretPage },
  },
  {
    method: "get",
    path: "/v1/secrets/{ownerType}/{ownerId}/{keyName}",
    operationId: "getSecret",
    summary: "A secret's metadata (value masked); `ETag` is its version",
    tag: "secrets",
    params: SecretParams,
    query: VersionQuery,
    ok: { status: 200, description: "The secret.", schema: SecretDto, headers: [ETAG] },
    errors: [404],
  },
  {
    method: "put",
    path: "/v1/secrets/{ownerType}/{ownerId}/{keyName}",
    operationId: "putSecret",
    summary: "Write a new version of a secret",
    tag: "secrets",
    params: SecretParams,
    headers: [IF_MATCH, IDEMPOTENCY],
    body: PutSecretBody,
    ok: { status: 200, description: "The new version (value masked).", schema: SecretDto, headers: [ETAG, REPLAYED] },
    errors: [409, 422],
  },
  {
    method: "delete",
    path: "/v1/secrets/{ownerType}/{ownerId}/{keyName}",
    operationId: "deleteSecret",
    summary: "Delete a secret (soft: its history is kept)",
    tag: "secrets",
    params: SecretParams,
    headers: [IF_MATCH],
    ok: { status: 200, description: "The deleted secret.", schema: SecretDto },
    errors: [404, 409],
  },
  {
    method: "get",
    path: "/v1/secrets/{ownerType}/{ownerId}/{keyName}/versions",
    operationId: "listVersions",
    summary: "A secret's versions",
    tag: "secrets",
    params: SecretParams,
    ok: { status: 200, description: "Every version, oldest first.", schema: VersionList },
    errors: [404],
  },
  {
    method: "post",
    path: "/v1/secrets/{ownerType}/{ownerId}/{keyName}:reveal",
    operationId: "revealSecret",
    summary: "Reveal a secret's value (audited with the reason)",
    tag: "secrets",
    params: SecretParams,
    headers: [REAUTH],
    body: RevealBody,
    ok: { status: 200, description: "The secret with its value.", schema: RevealedDto },
    errors: [404],
  },
  {
    method: "post",
    path: "/v1/secrets/{ownerType}/{ownerId}/{keyName}:share",
    operationId: "shareSecret",
    summary: "Make a one-time reveal link",
    tag: "secrets",
    params: SecretParams,
    headers: [REAUTH],
    body: ShareBody,
    ok: { status: 201, description: "The link; its token is shown once.", schema: ShareDto },
    errors: [404],
  },
  {
    method: "post",
    path: "/v1/secrets/{ownerType}/{ownerId}/{keyName}:rotate",
    operationId: "rotateSecret",
    summary: "Re-encrypt a secret under new data keys, or regenerate its value",
    tag: "secrets",
    params: SecretParams,
    body: RotateSecretBody,
    ok: { status: 200, description: "The secret as it now is.", schema: SecretDto },
    errors: [404],
  },
  {
    method: "post",
    path: "/v1/secrets/{ownerType}/{ownerId}/{keyName}:generate",
    operationId: "generateSecret",
    summary: "Write a random value generated on the server (never returned)",
    tag: "secrets",
    params: SecretParams,
    headers: [IDEMPOTENCY],
    body: GenerateBody,
    ok: {
      status: 201,
      alsoStatus: [200],
      description: "201: a new version was written; 200: `ifMissing` found the secret.",
      schema: GenerateResultDto,
      headers: [REPLAYED],
    },
    errors: [422],
  },
  {
    method: "post",
    path: "/v1/secrets/{ownerType}/{ownerId}:reveal",
    operationId: "revealOwner",
    summary: "Reveal every live secret of an owner (what `coffer run` injects); audited per secret",
    tag: "secrets",
    params: OwnerParams,
    headers: [REAUTH],
    body: RevealOwnerBody,
    ok: { status: 200, description: "The values.", schema: RevealAllDto },
  },
  {
    method: "post",
    path: "/v1/shared/{token}:reveal",
    operationId: "redeemShared",
    summary: "Redeem a one-time link (no bearer token): the value, exactly once",
    tag: "secrets",
    auth: false,
    params: z.object({ token: doc(z.string(), "The link's one-time token.") }),
    body: SharedRevealBody,
    ok: { status: 200, description: "The secret with its value.", schema: RevealedDto },
    errors: [410],
  },
  // Transfer
  {
    method: "post",
    path: "/v1/secrets:import",
    operationId: "importSecrets",
    summary: "Import a file (dotenv, JSON, YAML, SOPS, bundle) into an owner in one transaction",
    tag: "transfer",
    body: ImportBody,
    ok: { status: 200, description: "What was written.", schema: ImportSummaryDto },
  },
  {
    method: "get",
    path: "/v1/secrets:export",
    operationId: "exportBundle",
    summary: "An owner's secrets as an armored age bundle (one audited reveal per secret)",
    tag: "transfer",
    query: ExportQuery,
    headers: [
      { name: "X-Coffer-Reason", description: "Why (URI-encoded); or the `reason` query parameter." },
      { name: "X-Coffer-Bundle-Passphrase", description: "Seal with this passphrase (URI-encoded) instead of recipients." },
      REAUTH,
    ],
    ok: {
      status: 200,
      description: "The bundle; `X-Coffer-Bundle-Count` says how many secrets it holds.",
      schema: z.string(),
      contentType: "text/plain",
      headers: [{ name: "X-Coffer-Bundle-Count", description: "How many secrets the bundle holds." }],
    },
  },
  // Templates
  {
    method: "get",
    path: "/v1/templates/{ownerType}/{ownerId}",
    operationId: "listTemplates",
    summary: "An owner's stored templates",
    tag: "templates",
    params: OwnerParams,
    ok: { status: 200, description: "The templates (without their text).", schema: TemplateList },
  },
  {
    method: "get",
    path: "/v1/templates/{ownerType}/{ownerId}/{name}",
    operationId: "getTemplate",
    summary: "A stored template and its text",
    tag: "templates",
    params: TemplateParams,
    ok: { status: 200, description: "The template.", schema: TemplateTextDto },
    errors: [404],
  },
  {
    method: "put",
    path: "/v1/templates/{ownerType}/{ownerId}/{name}",
    operationId: "putTemplate",
    summary: "Store (or replace) a template",
    tag: "templates",
    params: TemplateParams,
    body: PutTemplateBody,
    ok: { status: 200, description: "The stored template.", schema: TemplateDto },
  },
  {
    method: "delete",
    path: "/v1/templates/{ownerType}/{ownerId}/{name}",
    operationId: "deleteTemplate",
    summary: "Delete a template",
    tag: "templates",
    params: TemplateParams,
    ok: { status: 204, description: "Deleted." },
    errors: [404],
  },
  {
    method: "post",
    path: "/v1/templates/{ownerType}/{ownerId}/{name}:render",
    operationId: "renderTemplate",
    summary: "Render a template (each reference an audited reveal)",
    tag: "templates",
    params: TemplateParams,
    headers: [REAUTH],
    body: RenderTemplateBody,
    ok: {
      status: 200,
      description: "The rendered bytes, with the format's content type (`application/json`, `text/plain`, …).",
      schema: z.string(),
      contentType: "*/*",
    },
    errors: [404],
  },
  // Tokens
  {
    method: "post",
    path: "/v1/tokens",
    operationId: "createToken",
    summary: "Create an API token (admin)",
    tag: "tokens",
    body: CreateTokenBody,
    ok: { status: 201, description: "The token, shown once.", schema: CreatedTokenDto },
  },
  {
    method: "get",
    path: "/v1/tokens",
    operationId: "listTokens",
    summary: "List API tokens (admin)",
    tag: "tokens",
    ok: { status: 200, description: "The tokens, without their secrets.", schema: TokenList },
  },
  {
    method: "delete",
    path: "/v1/tokens/{id}",
    operationId: "revokeToken",
    summary: "Revoke an API token (admin)",
    tag: "tokens",
    params: z.object({ id: doc(z.string(), "The token's id.") }),
    ok: { status: 200, description: "The revoked token.", schema: TokenDto },
    errors: [404],
  },
  // Audit
  {
    method: "get",
    path: "/v1/audit",
    operationId: "listAudit",
    summary: "Audit events (admin, or `audit:read`)",
    tag: "audit",
    query: AuditQuery,
    ok: { status: 200, description: "A page of events.", schema: AuditPage },
  },
  {
    method: "get",
    path: "/v1/audit/verify",
    operationId: "verifyAudit",
    summary: "Verify the audit chain (optionally against an anchor recorded earlier)",
    tag: "audit",
    query: AuditVerifyQuery,
    ok: { status: 200, description: "The verification.", schema: AuditVerificationDto },
  },
  // Encryption (admin)
  {
    method: "get",
    path: "/v1/admin/encryption",
    operationId: "encryptionStatus",
    summary: "Master keys, what depends on each, rotation jobs (admin)",
    tag: "admin",
    ok: { status: 200, description: "The status.", schema: KeyStatusDto },
  },
  {
    method: "post",
    path: "/v1/admin/encryption/rotate",
    operationId: "rotateEncryption",
    summary: "Rotate the master key: rewrap every scope key in the background (admin)",
    tag: "admin",
    body: RotateEncryptionBody,
    ok: { status: 202, description: "The job as it started.", schema: RotationStartedDto },
    errors: [409],
  },
  {
    method: "post",
    path: "/v1/admin/encryption/retire",
    operationId: "retireKey",
    summary: "Retire a master key nothing depends on any more (admin)",
    tag: "admin",
    body: RetireKeyBody,
    ok: { status: 200, description: "The retired key.", schema: RetiredKeyDto },
    errors: [404, 409],
  },
  {
    method: "get",
    path: "/v1/owners",
    operationId: "listOwners",
    summary: "The owners this token can see that hold live secrets, with counts",
    tag: "secrets",
    ok: { status: 200, description: "The owners.", schema: OwnerList },
  },
  // The admin console's session (docs/console.md): an HttpOnly cookie instead of a bearer token.
  {
    method: "post",
    path: "/v1/console/session",
    operationId: "consoleSignIn",
    summary: "Admin console: exchange a token for a session cookie (HttpOnly, SameSite=Strict)",
    tag: "console",
    auth: false,
    body: ConsoleSignInBody,
    ok: {
      status: 201,
      description: "The session; its id is in the `Set-Cookie: coffer_session=…` header only.",
      schema: ConsoleSessionDto,
      headers: [{ name: "Set-Cookie", description: "`coffer_session=<id>; Path=/; HttpOnly; SameSite=Strict` (+ `Secure` over HTTPS)." }],
    },
    errors: [401, 403, 429],
  },
  {
    method: "get",
    path: "/v1/console/session",
    operationId: "consoleSession",
    summary: "Admin console: the session the cookie stands for",
    tag: "console",
    ok: { status: 200, description: "The session.", schema: ConsoleSessionDto },
  },
  {
    method: "post",
    path: "/v1/console/session/reauth",
    operationId: "consoleReauthenticate",
    summary: "Admin console: present the session's token again (recent authentication for reveals)",
    tag: "console",
    headers: [CSRF_HEADER_DOC],
    body: ConsoleSignInBody,
    ok: { status: 200, description: "The session, re-authenticated.", schema: ConsoleSessionDto },
  },
  {
    method: "delete",
    path: "/v1/console/session",
    operationId: "consoleSignOut",
    summary: "Admin console: sign out (the session ends on every server)",
    tag: "console",
    headers: [CSRF_HEADER_DOC],
    ok: { status: 204, description: "Signed out; the cookie is cleared." },
  },
  {
    method: "post",
    path: REKEY_PATH,
    operationId: "rekeyOwner",
    summary: "Give an owner a new scope key and rewrap its data keys under it (admin)",
    tag: "admin",
    body: RekeyOwnerBody,
    ok: { status: 200, description: "The new scope key.", schema: RekeyOwnerDto },
    errors: [404],
  },
  {
    method: "post",
    path: ERASE_PATH,
    operationId: "eraseOwner",
    summary: "Crypto-erase an owner: its secrets, versions and scope keys, for good (admin)",
    tag: "admin",
    body: EraseOwnerBody,
    ok: { status: 200, description: "What was erased and from when it is unrecoverable.", schema: EraseReportDto },
    errors: [404],
  },
  {
    method: "get",
    path: VALUE_CHECK_PATH,
    operationId: "checkValues",
    summary: "Compare value HMACs across owners without decrypting: reuse, drift, unchecked versions (admin)",
    tag: "admin",
    query: ValueCheckQuery,
    ok: { status: 200, description: "The report.", schema: ValueCheckDto },
  },
  // Operations
  {
    method: "get",
    path: "/v1/openapi.json",
    operationId: "openapi",
    summary: "This document (OpenAPI 3.1)",
    tag: "operations",
    auth: false,
    ok: { status: 200, description: "The OpenAPI document.", schema: z.record(z.string(), z.unknown()) },
  },
  {
    method: "get",
    path: "/healthz",
    operationId: "health",
    summary: "Liveness",
    tag: "operations",
    auth: false,
    ok: { status: 200, description: "Up.", schema: HealthDto },
  },
  {
    method: "get",
    path: "/readyz",
    operationId: "ready",
    summary: "Readiness: the store answers and a master key is active",
    tag: "operations",
    auth: false,
    ok: { status: 200, description: "Ready.", schema: ReadyDto },
  },
  {
    method: "get",
    path: "/metrics",
    operationId: "metrics",
    summary: "Prometheus metrics (no values, owners or tokens in them)",
    tag: "operations",
    auth: false,
    ok: { status: 200, description: "Prometheus text exposition.", schema: z.string(), contentType: "text/plain" },
  },
];
