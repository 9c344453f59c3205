import type { Generated, Kysely } from "kysely";

/**
 * The logical schema, shared by both dialects. Times are ISO-8601 UTC strings in the
 * application (TEXT in SQLite); JSON is TEXT in SQLite. The system owner's id is `_`, never
 * NULL, so `(owner_type, owner_id, key_name)` is unique for it too.
 */
export interface SecretsTable {
  id: Generated<number>;
  owner_type: string;
  owner_id: string;
  key_name: string;
  current_version: number;
  meta: string;
  created_at: string;
  updated_at: string;
  last_rotated_at: string | null;
  deleted_at: string | null;
  /** Keyed MAC over identity and mutable state (migration 0004); NULL only before the one-time backfill. */
  state_mac: Uint8Array | null;
}

export interface SecretVersionsTable {
  secret_id: number;
  version: number;
  alg: string;
  nonce: Uint8Array;
  /** AES-GCM ciphertext followed by its 16-byte tag. */
  ciphertext: Uint8Array;
  wrapped_dek: Uint8Array;
  scope_key_id: string;
  hmac: Uint8Array | null;
  /** The internal key that computed `hmac` (rotatable; migration 0004). */
  hmac_key_id: string | null;
  created_at: string;
  created_by: string;
  destroyed_at: string | null;
}

/** MAC'd records kept apart from the tables they protect (the audit high-water mark, the backfill marker). */
export interface IntegrityMarksTable {
  name: string;
  seq: number;
  digest: Uint8Array;
  key_id: string;
  mac: Uint8Array;
  updated_at: string;
}

export interface ScopeKeysTable {
  id: string;
  owner_type: string;
  owner_id: string;
  kid: string;
  wrapped_key: Uint8Array;
  state: string;
  created_at: string;
  rewrapped_at: string | null;
}

export interface KeyringKeysTable {
  kid: string;
  provider: string;
  fingerprint: string;
  created_at: string;
  activated_at: string | null;
  retired_at: string | null;
  wrap_count: number;
}

export interface InternalKeysTable {
  id: string;
  purpose: string;
  kid: string;
  wrapped_key: Uint8Array;
  created_at: string;
}

export interface AuditEventsTable {
  seq: number;
  at: string;
  actor: string;
  action: string;
  owner_type: string | null;
  owner_id: string | null;
  key_name: string | null;
  version: number | null;
  outcome: string;
  reason: string | null;
  request_id: string | null;
  client_addr: string | null;
  details: string;
  mac_key_id: string;
  prev_mac: Uint8Array;
  mac: Uint8Array;
}

export interface RotationJobsTable {
  id: string;
  from_kid: string | null;
  to_kid: string;
  state: string;
  cursor: string | null;
  total: number;
  done: number;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
  error_code: string | null;
}

export interface TokensTable {
  id: string;
  name: string;
  /** Hex SHA-256 of the bearer token; the token itself is never stored. */
  token_hash: string;
  /** JSON array of scopes. */
  scopes: string;
  /** JSON array of owner patterns. */
  owners: string;
  interactive: number;
  created_at: string;
  created_by: string;
  authenticated_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface ShareLinksTable {
  id: string;
  token_hash: string;
  owner_type: string;
  owner_id: string;
  key_name: string;
  version: number;
  reason: string;
  created_by: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface IdempotencyKeysTable {
  token_id: string;
  idem_key: string;
  request_hash: string;
  status: number;
  /** The first response's JSON body (masked views only). */
  response: string;
  created_at: string;
}

export interface RateLimitsTable {
  bucket: string;
  window_start: number;
  count: number;
}

export interface LeasesTable {
  name: string;
  holder: string;
  expires_at: string;
}

export interface TemplatesTable {
  owner_type: string;
  owner_id: string;
  name: string;
  body: string;
  created_at: string;
  updated_at: string;
  updated_by: string;
}

export interface ConsoleSessionsTable {
  /** SHA-256 (hex) of the session id; the id itself is only in the browser's cookie. */
  id_hash: string;
  token_id: string;
  created_at: string;
  last_seen_at: string;
  /** When the token was last presented (sign-in or re-authentication): what the re-auth rule checks. */
  authenticated_at: string;
  /** The absolute end of the session. */
  expires_at: string;
}

export interface Database {
  secrets: SecretsTable;
  secret_versions: SecretVersionsTable;
  scope_keys: ScopeKeysTable;
  leases: LeasesTable;
  keyring_keys: KeyringKeysTable;
  internal_keys: InternalKeysTable;
  audit_events: AuditEventsTable;
  rotation_jobs: RotationJobsTable;
  tokens: TokensTable;
  share_links: ShareLinksTable;
  idempotency_keys: IdempotencyKeysTable;
  rate_limits: RateLimitsTable;
  integrity_marks: IntegrityMarksTable;
  templates: TemplatesTable;
  console_sessions: ConsoleSessionsTable;
}

/** Repositories take the executor first: the pool or a transaction, chosen by the service. */
export type Executor = Kysely<Database>;
