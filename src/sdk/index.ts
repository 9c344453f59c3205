/**
 * `coffer/sdk`: a typed client for Coffer's HTTP API (v1), built on `fetch`, so it runs in
 * Node (>= 22) and in browsers alike. Every failure is a {@link CofferApiError} carrying the
 * problem's stable `code` (the same codes as the CLI, docs/errors.md).
 *
 * ```ts
 * import { CofferClient } from "coffer/sdk";
 * const coffer = new CofferClient({ baseUrl: "http://127.0.0.1:7300", token: process.env.COFFER_TOKEN });
 * const { value } = await coffer.revealSecret("project/acme", "DB_PASSWORD", { reason: "deploy" });
 * ```
 */
// Values from paths.ts only (plain functions, no zod); everything else from the contract is a
// type, inferred from the schemas the server validates with, and erased from the build.
import {
  ERASE_PATH,
  EXPORT_PATH,
  IMPORT_PATH,
  REKEY_PATH,
  VALUE_CHECK_PATH,
  ownerPath,
  ownerSegments,
  secretPath,
  templatePath,
} from "../contract/paths.ts";
import type {
  AuditPage,
  AuditVerificationDto,
  CreatedTokenDto,
  CreateTokenBody,
  EraseOwnerRequestDto,
  EraseReportDto,
  RekeyOwnerDto,
  ValueCheckDto,
  GenerateRequestDto,
  GenerateResultDto,
  ImportRequestDto,
  ImportSummaryDto,
  KeyStatusDto,
  Problem,
  PutSecretBody,
  ReadonlyDeep,
  RevealAllDto,
  RevealBody,
  RevealedDto,
  RevealOwnerBody,
  RotateEncryptionBody,
  RotateSecretBody,
  RotationStartedDto,
  SecretDto,
  SecretPage,
  ShareBody,
  ShareDto,
  TemplateDto,
  TemplateTextDto,
  TokenDto,
  VersionDto,
} from "../contract/index.ts";

import type { OwnerList, RetiredKeyDto } from "../contract/console.ts";

export type * from "../contract/index.ts";

export type ClientOptions = {
  /** The server, e.g. `http://127.0.0.1:7300`. */
  readonly baseUrl: string;
  /** A bearer token (`coffer_…`). Not needed for health checks and one-time links. */
  readonly token?: string | undefined;
  /** Per-request timeout; default 30 s. */
  readonly timeoutMs?: number;
  /** Evidence of recent authentication for reveals (sent as `X-Coffer-Reauth`), when the server's re-auth hook wants one. */
  readonly reauth?: string | undefined;
  /** A `fetch` to use instead of the global one. */
  readonly fetch?: typeof fetch;
};

/** A failed call: the server's problem (`code`, `status`, `detail`) or SERVER_UNAVAILABLE (status 0) when there was none. */
export class CofferApiError extends Error {
  override readonly name = "CofferApiError";
  readonly code: string;
  readonly status: number;
  readonly problem: Problem | null;
  /** Seconds to wait, on RATE_LIMITED. */
  readonly retryAfter: number | null;

  constructor(code: string, message: string, status: number, problem: Problem | null) {
    super(message);
    this.code = code;
    this.status = status;
    this.problem = problem;
    this.retryAfter = problem?.retryAfter ?? null;
  }
}

export type ListSecretsQuery = {
  readonly ownerType?: string;
  readonly ownerId?: string;
  /** Or `owner` (`project/acme`, `system`), which sets both. */
  readonly owner?: string;
  readonly prefix?: string;
  readonly cursor?: string | null;
  readonly limit?: number;
  readonly deleted?: boolean;
};

/** {@link PutSecretBody} with exactly one of `value` and `valueBase64`. */
export type PutSecret = ({ readonly value: string } | { readonly valueBase64: string }) & ReadonlyDeep<Pick<PutSecretBody, "meta">>;

export type PutOptions = {
  /** Check-and-set: write only if the current version is this one (0: must not exist). */
  readonly ifMatch?: number;
  /** Retry-safe writes: the same key and body replay the first response. */
  readonly idempotencyKey?: string;
};

export type PutResult = SecretDto & { readonly replayed: boolean };

type Call = {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  readonly path: string;
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  readonly auth?: boolean;
};

export class CofferClient {
  readonly #base: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #reauth: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(opts: ClientOptions) {
    this.#base = opts.baseUrl.replace(/\/+$/, "");
    this.#token = opts.token;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#reauth = opts.reauth;
    this.#fetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  // Secrets

  listSecrets(q: ListSecretsQuery = {}): Promise<SecretPage> {
    // An owner goes whole (`acme` as ownerType=acme&ownerId=): the server checks it with the owner rule.
    const owner = q.owner === undefined ? null : ownerSegments(q.owner);
    return this.#json({
      method: "GET",
      path: "/v1/secrets",
      query: {
        ownerType: owner?.ownerType ?? q.ownerType,
        ownerId: owner?.ownerId ?? q.ownerId,
        prefix: q.prefix,
        cursor: q.cursor ?? undefined,
        limit: q.limit === undefined ? undefined : String(q.limit),
        deleted: q.deleted === true ? "true" : undefined,
      },
    });
  }

  /** Every page of {@link listSecrets}. */
  async *iterateSecrets(q: Omit<ListSecretsQuery, "cursor"> = {}): AsyncGenerator<SecretDto> {
    let cursor: string | null = null;
    do {
      const page: SecretPage = await this.listSecrets({ ...q, cursor });
      yield* page.items;
      cursor = page.nextCursor;
    } while (cursor !== null);
  }

  getSecret(owner: string, key: string, opts: { readonly version?: number } = {}): Promise<SecretDto> {
    return this.#json({
      method: "GET",
      path: secretPath(owner, key),
      query: { version: opts.version === undefined ? undefined : String(opts.version) },
    });
  }

  /** The plaintext, once; audited with `reason` on the server. */
  revealSecret(owner: string, key: string, opts: ReadonlyDeep<RevealBody>): Promise<RevealedDto> {
    return this.#json({ method: "POST", path: `${secretPath(owner, key)}:reveal`, body: opts });
  }

  async putSecret(owner: string, key: string, body: PutSecret, opts: PutOptions = {}): Promise<PutResult> {
    const headers: Record<string, string> = {};
    if (opts.ifMatch !== undefined) headers["if-match"] = `"${String(opts.ifMatch)}"`;
    if (opts.idempotencyKey !== undefined) headers["idempotency-key"] = opts.idempotencyKey;
    const res = await this.#send({ method: "PUT", path: secretPath(owner, key), body, headers });
    const dto = (await res.json()) as SecretDto;
    return { ...dto, replayed: res.headers.get("idempotent-replayed") === "true" };
  }

  deleteSecret(owner: string, key: string, opts: { readonly ifMatch?: number } = {}): Promise<SecretDto> {
    return this.#json({
      method: "DELETE",
      path: secretPath(owner, key),
      headers: opts.ifMatch === undefined ? {} : { "if-match": `"${String(opts.ifMatch)}"` },
    });
  }

  async listVersions(owner: string, key: string): Promise<readonly VersionDto[]> {
    return (await this.#json<{ items: VersionDto[] }>({ method: "GET", path: `${secretPath(owner, key)}/versions` })).items;
  }

  /**
   * New data keys for every version, values re-encrypted; with `regenerate`, a fresh random
   * value instead, made with the policy kept by {@link generateSecret}.
   */
  rotateSecret(owner: string, key: string, opts: ReadonlyDeep<RotateSecretBody> = {}): Promise<SecretDto> {
    return this.#json({ method: "POST", path: `${secretPath(owner, key)}:rotate`, body: opts });
  }

  /** A generated value (never returned), written as a new version; `ifMissing` keeps an existing one. Needs `secrets:write`. */
  async generateSecret(
    owner: string,
    key: string,
    body: ReadonlyDeep<GenerateRequestDto> = {},
    opts: { readonly idempotencyKey?: string } = {},
  ): Promise<GenerateResultDto & { readonly replayed: boolean }> {
    const headers: Record<string, string> = opts.idempotencyKey === undefined ? {} : { "idempotency-key": opts.idempotencyKey };
    const res = await this.#send({ method: "POST", path: `${secretPath(owner, key)}:generate`, body, headers });
    const dto = (await res.json()) as GenerateResultDto;
    return { ...dto, replayed: res.headers.get("idempotent-replayed") === "true" };
  }

  /** Stores (or replaces) a template's text. Needs `secrets:write` on the owner. */
  putTemplate(owner: string, name: string, text: string): Promise<TemplateDto> {
    return this.#json({ method: "PUT", path: templatePath(owner, name), body: { text } });
  }

  /** A template's text (never a secret's value). */
  getTemplate(owner: string, name: string): Promise<TemplateTextDto> {
    return this.#json({ method: "GET", path: templatePath(owner, name) });
  }

  async listTemplates(owner: string): Promise<readonly TemplateDto[]> {
    return (await this.#json<{ items: TemplateDto[] }>({ method: "GET", path: templatePath(owner, "").replace(/\/$/, "") })).items;
  }

  async deleteTemplate(owner: string, name: string): Promise<void> {
    await this.#send({ method: "DELETE", path: templatePath(owner, name) });
  }

  /**
   * Renders a stored template: each reference an audited reveal (default reason `render <name>`),
   * escaped for the template's format. Needs `secrets:reveal` on the owner and on every owner it references.
   */
  async renderTemplate(
    owner: string,
    name: string,
    opts: { readonly reason?: string; readonly format?: string } = {},
  ): Promise<Uint8Array> {
    const res = await this.#send({ method: "POST", path: `${templatePath(owner, name)}:render`, body: opts });
    return new Uint8Array(await res.arrayBuffer());
  }

  /** A one-time reveal link (default TTL 15m, at most 7d). */
  shareSecret(owner: string, key: string, opts: ReadonlyDeep<ShareBody>): Promise<ShareDto> {
    return this.#json({ method: "POST", path: `${secretPath(owner, key)}:share`, body: opts });
  }

  /** Redeems a one-time link's token (no bearer token needed): the plaintext, exactly once. */
  redeemShared(token: string): Promise<RevealedDto> {
    return this.#json({ method: "POST", path: `/v1/shared/${encodeURIComponent(token)}:reveal`, body: {}, auth: false });
  }

  /** Every live secret of an owner in plaintext (what `coffer run` injects); audited per secret. */
  revealOwner(owner: string, opts: ReadonlyDeep<RevealOwnerBody>): Promise<RevealAllDto> {
    return this.#json({ method: "POST", path: `${ownerPath(owner)}:reveal`, body: opts });
  }

  /**
   * Imports a file (dotenv/JSON/YAML need `allowPlaintext`; a SOPS file or bundle is opened on
   * the server with `identities` or `passphrase`) in one transaction. Needs `secrets:write`.
   */
  importSecrets(body: ReadonlyDeep<ImportRequestDto>): Promise<ImportSummaryDto> {
    return this.#json({ method: "POST", path: IMPORT_PATH, body });
  }

  /**
   * An owner's secrets as an armored age bundle for `recipients` (or a `passphrase`, sent in
   * the `X-Coffer-Bundle-Passphrase` header), and how many secrets it holds. Needs `secrets:reveal`; one audited reveal per secret.
   */
  async exportBundle(
    owner: string,
    opts: { readonly reason: string; readonly prefix?: string; readonly recipients?: readonly string[]; readonly passphrase?: string },
  ): Promise<{ readonly bundle: string; readonly count: number }> {
    const url = new URL(this.#base + EXPORT_PATH);
    url.searchParams.set("owner", owner);
    if (opts.prefix !== undefined) url.searchParams.set("prefix", opts.prefix);
    for (const r of opts.recipients ?? []) url.searchParams.append("recipient", r);
    const headers: Record<string, string> = { "x-coffer-reason": encodeURIComponent(opts.reason) };
    if (opts.passphrase !== undefined) headers["x-coffer-bundle-passphrase"] = encodeURIComponent(opts.passphrase);
    const res = await this.#send({ method: "GET", path: `${EXPORT_PATH}${url.search}`, headers });
    return { bundle: await res.text(), count: Number(res.headers.get("x-coffer-bundle-count") ?? "0") };
  }

  // Audit

  /**
   * A page of the audit log the token may read. `order: "desc"` lists newest first (the
   * default is oldest first); `cursor` is a previous page's `nextCursor` (in the same order),
   * `after` a sequence number to start after, `since`/`until` ISO 8601 instants (a `Date`, or
   * text such as `2026-12-01T09:00:00Z` or `7d` ago), `actor` as recorded (`token:<id>`).
   */
  listAudit(
    q: {
      readonly owner?: string;
      readonly action?: string;
      readonly actor?: string;
      readonly since?: string | Date;
      readonly until?: string | Date;
      readonly order?: "asc" | "desc";
      readonly after?: number;
      readonly cursor?: string | null;
      readonly limit?: number;
    } = {},
  ): Promise<AuditPage> {
    const time = (t: string | Date | undefined): string | undefined => (t instanceof Date ? t.toISOString() : t);
    return this.#json({
      method: "GET",
      path: "/v1/audit",
      query: {
        owner: q.owner,
        action: q.action,
        actor: q.actor,
        since: time(q.since),
        until: time(q.until),
        order: q.order,
        after: q.after === undefined ? undefined : String(q.after),
        cursor: q.cursor ?? undefined,
        limit: q.limit === undefined ? undefined : String(q.limit),
      },
    });
  }

  /** Verifies the chain; `anchor` (`<seq>:<mac hex>`) is a head recorded earlier that must still be in it. */
  verifyAudit(q: { readonly anchor?: string } = {}): Promise<AuditVerificationDto> {
    return this.#json({ method: "GET", path: "/v1/audit/verify", query: { anchor: q.anchor } });
  }

  // Tokens (admin)

  createToken(t: ReadonlyDeep<CreateTokenBody>): Promise<CreatedTokenDto> {
    return this.#json({ method: "POST", path: "/v1/tokens", body: t });
  }

  async listTokens(): Promise<readonly TokenDto[]> {
    return (await this.#json<{ items: TokenDto[] }>({ method: "GET", path: "/v1/tokens" })).items;
  }

  revokeToken(id: string): Promise<TokenDto> {
    return this.#json({ method: "DELETE", path: `/v1/tokens/${encodeURIComponent(id)}` });
  }

  // Encryption (admin)

  encryptionStatus(): Promise<KeyStatusDto> {
    return this.#json({ method: "GET", path: "/v1/admin/encryption" });
  }

  /**
   * Mints a new master key where the server's provider can (or switches to `toKid`), makes it
   * active and rewraps every scope key under it in the background; finishes an interrupted
   * rotation first.
   */
  rotateEncryption(opts: ReadonlyDeep<RotateEncryptionBody> = {}): Promise<RotationStartedDto> {
    return this.#json({ method: "POST", path: "/v1/admin/encryption/rotate", body: opts });
  }

  /** Marks a kid retired once nothing depends on it (`coffer keys retire`). Needs `admin`. */
  retireKey(kid: string): Promise<RetiredKeyDto> {
    return this.#json({ method: "POST", path: "/v1/admin/encryption/retire", body: { kid } });
  }

  // Owners

  /** The owners this token can see that hold live secrets, with how many. Needs `secrets:read`. */
  async listOwners(): Promise<OwnerList["items"]> {
    return (await this.#json<OwnerList>({ method: "GET", path: "/v1/owners" })).items;
  }

  /** Gives `owner` a new scope key and rewraps every data key under it (online, audited). */
  rekeyOwner(owner: string): Promise<RekeyOwnerDto> {
    return this.#json({ method: "POST", path: REKEY_PATH, body: { owner } });
  }

  /**
   * Crypto-erases `owner` for good: its secrets, versions and scope keys (audited); `confirm`
   * must repeat the owner. The report says from when the data is unrecoverable, backups included.
   */
  eraseOwner(body: EraseOwnerRequestDto): Promise<EraseReportDto> {
    return this.#json({ method: "POST", path: ERASE_PATH, body });
  }

  /** Compares stored value HMACs without decrypting: reused values, drift, unchecked versions. */
  checkValues(q: { readonly owner?: string } = {}): Promise<ValueCheckDto> {
    return this.#json({ method: "GET", path: VALUE_CHECK_PATH, query: { owner: q.owner } });
  }

  // Operations

  health(): Promise<{ status: string }> {
    return this.#json({ method: "GET", path: "/healthz", auth: false });
  }

  ready(): Promise<{ status: string }> {
    return this.#json({ method: "GET", path: "/readyz", auth: false });
  }

  async metrics(): Promise<string> {
    return (await this.#send({ method: "GET", path: "/metrics", auth: false })).text();
  }

  async #json<T>(call: Call): Promise<T> {
    return (await (await this.#send(call)).json()) as T;
  }

  async #send(call: Call): Promise<Response> {
    const url = new URL(this.#base + call.path);
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const headers: Record<string, string> = { accept: "application/json", ...call.headers };
    if (call.auth !== false && this.#token !== undefined) headers["authorization"] = `Bearer ${this.#token}`;
    if (this.#reauth !== undefined) headers["x-coffer-reauth"] = this.#reauth;
    if (call.body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method: call.method,
        headers,
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      const why = e instanceof Error && e.name === "TimeoutError" ? `no answer within ${String(this.#timeoutMs)} ms` : "connection failed";
      throw new CofferApiError("SERVER_UNAVAILABLE", `cannot reach the Coffer server at ${this.#base} (${why})`, 0, null);
    }
    if (res.ok) return res;
    let problem: Problem | null = null;
    try {
      const p = (await res.json()) as Partial<Problem>;
      if (typeof p.code === "string" && typeof p.detail === "string") problem = p as Problem;
    } catch {
      // not JSON: not Coffer's API
    }
    if (problem === null) {
      throw new CofferApiError(
        "SERVER_UNAVAILABLE",
        `${this.#base} answered HTTP ${String(res.status)} without a Coffer problem; is it a Coffer server?`,
        res.status,
        null,
      );
    }
    throw new CofferApiError(problem.code, problem.detail, res.status, problem);
  }
}
