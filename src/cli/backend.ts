import type { Secret } from "../core/secret/index.ts";
import type {
  AuditEventView,
  AuditVerification,
  CheckReport,
  CreateTokenInput,
  EraseReport,
  GenerateResult,
  GeneratorOptions,
  ImportSummary,
  KeyStatus,
  RekeyReport,
  RetireReport,
  RotationProgress,
  RotationReport,
  SecretView,
  TemplateText,
  TemplateView,
  VersionView,
} from "../core/service/index.ts";
import type { ReadonlyDeep, TokenDto as TokenWire } from "../contract/index.ts";
import type { ExportedBundle, ExportRequest, ImportRequest } from "./transfer.ts";

/** A token as the commands print it (never its secret). */
export type TokenDto = ReadonlyDeep<TokenWire>;

export type Ref = { readonly owner: string; readonly key: string };
export type TemplateRef = { readonly owner: string; readonly name: string };
export type AuditFilter = {
  readonly owner: string | null;
  readonly action: string | null;
  readonly afterSeq: number;
  readonly limit: number;
  /** "desc": newest first. */
  readonly order: "asc" | "desc";
  readonly actor: string | null;
  readonly since: Date | null;
  readonly until: Date | null;
};

/**
 * `coffer keys rotate`'s request. `backupRetentionMs` undefined: the configured retention (the
 * server's, remotely, where giving one is refused).
 */
export type KeysRotateRequest = {
  readonly batchSize: number;
  readonly resume: boolean;
  readonly kid?: string;
  readonly toKid?: string;
  readonly backupRetentionMs?: number;
  readonly onProgress: (p: RotationProgress) => void;
};

/**
 * A finished KEK rotation. Over HTTP the server reports how many keys it rewrapped, not how
 * many of them were scope keys: the split is then null.
 */
export type KeysRotated = Omit<RotationReport, "rewrappedScopeKeys" | "rewrappedInternalKeys"> & {
  readonly rewrappedScopeKeys: number | null;
  readonly rewrappedInternalKeys: number | null;
};

/** A token as created, with its secret once; the caller wipes it. */
export type CreatedTokenOut = { readonly token: Secret; readonly view: TokenDto };

/**
 * What the commands that touch stored data need, in two implementations: local mode
 * (`local-backend.ts`: the store and keys opened in this process) and remote mode
 * (`remote-backend.ts`: a Coffer server through the SDK); `choose-backend.ts` picks one. The
 * commands print the same output and exit with the same statuses either way.
 */
export interface Backend {
  readonly mode: "local" | "remote";
  set(
    input: Ref & { readonly value: Secret; readonly meta?: Readonly<Record<string, string>>; readonly expectedVersion?: number },
  ): Promise<SecretView>;
  get(ref: Ref & { readonly version?: number }): Promise<SecretView>;
  reveal(ref: Ref & { readonly reason: string; readonly version?: number }): Promise<{ readonly view: SecretView; readonly value: Secret }>;
  unset(ref: Ref & { readonly expectedVersion?: number }): Promise<SecretView>;
  listAll(q: { readonly owner?: string; readonly prefix?: string; readonly includeDeleted: boolean }): Promise<readonly SecretView[]>;
  history(ref: Ref): Promise<readonly VersionView[]>;
  rotate(ref: Ref): Promise<SecretView>;
  /** A generated value written as a new version (never returned); `ifMissing` keeps an existing secret. */
  generate(
    input: Ref & GeneratorOptions & { readonly ifMissing: boolean; readonly meta?: Readonly<Record<string, string>> },
  ): Promise<GenerateResult>;
  /** A fresh value made with the secret's kept generation policy. */
  regenerate(ref: Ref): Promise<SecretView>;
  /** Stored templates (`coffer template …`, `coffer render --stored`). */
  readonly templates: {
    put(t: TemplateRef & { readonly text: string }): Promise<TemplateView>;
    get(t: TemplateRef): Promise<TemplateText>;
    list(owner: string): Promise<readonly TemplateView[]>;
    delete(t: TemplateRef): Promise<void>;
    render(t: TemplateRef & { readonly reason?: string; readonly format?: string }): Promise<Uint8Array>;
  };
  /** Every current value of an owner, for `run`; `null`: a value the server cannot send as text (not UTF-8). */
  revealAll(q: { readonly owner: string; readonly prefix?: string; readonly reason: string }): Promise<ReadonlyMap<string, Secret | null>>;
  auditList(f: AuditFilter): Promise<readonly AuditEventView[]>;
  /** `anchor`: `<seq>:<mac>` as recorded outside the database, or null. */
  auditVerify(anchor: string | null): Promise<AuditVerification>;
  /** One import, all or nothing (`coffer secrets import`). */
  importSecrets(r: ImportRequest): Promise<ImportSummary>;
  /** An owner's secrets as an age bundle (`coffer secrets export --bundle`); audited reveals. */
  exportBundle(r: ExportRequest): Promise<ExportedBundle>;
  /** Value HMACs compared across owners without decrypting (`coffer secrets check`; admin). */
  checkValues(q: { readonly owner?: string }): Promise<CheckReport>;
  /** API tokens (`coffer token …`; admin). */
  readonly tokens: {
    create(t: CreateTokenInput): Promise<CreatedTokenOut>;
    list(): Promise<readonly TokenDto[]>;
    revoke(id: string): Promise<TokenDto>;
  };
  /** The master keys (`coffer keys status|rotate|rekey|retire`; admin). */
  readonly keys: {
    status(): Promise<KeyStatus>;
    rotate(r: KeysRotateRequest): Promise<KeysRotated>;
    rekey(owner: string): Promise<RekeyReport>;
    retire(kid: string): Promise<RetireReport>;
  };
  /**
   * Crypto-erase of one owner (`coffer erase`; admin). `backupRetention` (`30d`, checked by the
   * caller): how long backups are kept; none: the configured retention (the server's, remotely).
   */
  erase(e: { readonly owner: string; readonly confirm: string; readonly backupRetention?: string }): Promise<EraseReport>;
}
