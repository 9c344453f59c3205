import type { Config } from "../config/index.ts";
import { kekNeedsCreation, openKeyring, type Keyring } from "../keys/index.ts";
import { CofferError } from "../errors/index.ts";
import { prewarmKeyedBlake3 } from "../crypto/index.ts";
import { keyRepo, NO_OWNERS, openStore, type Store } from "../store/index.ts";
import { AuditLog, type AuditAnchor, type AuditEventView, type AuditListFilter, type AuditVerification } from "./audit/index.ts";
import type { Actor, RequestContext } from "./access/index.ts";
import { KeyManager } from "./scope-keys/index.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { REQUEST_DIGEST_PURPOSE, SecretsService } from "./secrets/index.ts";
import { RateLimiter, recentAuthentication, type ReauthHook } from "./access/index.ts";
import { TokenService } from "./tokens/index.ts";
import { AuthGuard } from "./access/index.ts";
import { prepareStateMacs } from "./secrets/index.ts";
import { SecretStateMac } from "./secrets/index.ts";
import { SecretGenerator } from "./secrets/index.ts";
import { TemplateService } from "./templates/index.ts";
import { KekRotation } from "./admin/rotation/index.ts";
import { AutoRotation } from "./admin/rotation/index.ts";
import { OwnerRekey } from "./admin/rekey/index.ts";
import { CryptoErase } from "./admin/erase/index.ts";
import { KeyEscrow } from "./admin/escrow/index.ts";
import { LegacyImport } from "./admin/legacy-import/index.ts";
import { KeyStatusService } from "./admin/status/index.ts";
import { ValueCheck } from "./admin/check/index.ts";
import { rememberInternals } from "./internals.ts";
import { ConsoleSessions } from "./sessions/index.ts";
import { OwnerListing } from "./owners/index.ts";

/**
 * The administrative services. Each checks the `admin` scope itself (a local actor holds it)
 * and audits its refusals, so no adapter has to remember to.
 */
/** The audit log as an actor may read it (`audit:read`; refusals audited). */
export type AuditService = {
  /** One page, oldest first after `filter.afterSeq`; see {@link AuditLog.listAs}. */
  list(
    actor: Actor,
    ctx: RequestContext,
    filter: AuditListFilter,
  ): Promise<{ readonly events: AuditEventView[]; readonly nextCursor: number | null }>;
  /** Walks the hash chain (from `anchor`, when given); see {@link AuditLog.verify}. */
  verify(actor: Actor, ctx: RequestContext, input: { readonly anchor?: AuditAnchor | null }): Promise<AuditVerification>;
};

export type AdminServices = {
  /** `coffer keys rotate|retire`, `POST /v1/admin/encryption/rotate`. */
  readonly rotation: KekRotation;
  /** The server's automatic rotation policy (`COFFER_AUTO_ROTATE`). */
  readonly autoRotation: AutoRotation;
  /** `coffer keys rekey`. */
  readonly rekey: OwnerRekey;
  /** `coffer erase`. */
  readonly erase: CryptoErase;
  /** `coffer keys split`. */
  readonly escrow: KeyEscrow;
  /** `coffer import --legacy`. */
  readonly legacyImport: LegacyImport;
  /** `coffer keys status`, `GET /v1/admin/encryption`. */
  readonly status: KeyStatusService;
  /** `coffer secrets check`. */
  readonly valueCheck: ValueCheck;
};

/** Readiness: the database answers and the master key is loaded. */
export type Health = {
  /** @throws CofferError (the store's) when the database does not answer. */
  ready(): Promise<{ readonly kid: string }>;
  /** The active master key's kid (never key material). */
  activeKid(): string;
};

/**
 * What the core offers its adapters (CLI local mode, HTTP server): services only. The store and
 * the keys stay inside; tests reach them through `internals.ts`.
 */
export type Core = {
  readonly secrets: SecretsService;
  /** Generated secrets (`coffer secrets generate`, `rotate --regenerate`). */
  readonly generator: SecretGenerator;
  /** Stored templates and their rendering (`/v1/templates`, `coffer render --stored`). */
  readonly templates: TemplateService;
  readonly tokens: TokenService;
  /** Admin-console sessions (cookie sign-in, docs/console.md). */
  readonly sessions: ConsoleSessions;
  /** The owners a caller can see (`GET /v1/owners`). */
  readonly owners: OwnerListing;
  readonly audit: AuditService;
  readonly admin: AdminServices;
  readonly health: Health;
  close(): Promise<void>;
};

/**
 * The composition root of the core: store, keys and services, built once. Fail-closed: an
 * unusable key stops here, before anything is written (a key given by env or keyring file is
 * validated before the database is even opened).
 * @throws CofferError KEY_*, CONFIG_INVALID, SCHEMA_TOO_NEW, MIGRATIONS_PENDING.
 */
export type CoreOptions = {
  readonly logger?: Logger;
  readonly migrate?: boolean;
  /** Decides whether a token authenticated recently enough to reveal; default: {@link recentAuthentication}. */
  readonly reauth?: ReauthHook;
  /** Told once when the key provider falls back (no OS keychain reachable: the key file is used). */
  readonly warn?: (message: string) => void;
};

export async function createCore(config: Config, opts: CoreOptions = {}): Promise<Core> {
  // Every read checks a state MAC (BLAKE3 in WebAssembly): compile it while the store opens.
  prewarmKeyedBlake3();
  const logger = opts.logger ?? silentLogger;
  const create = kekNeedsCreation(config.kek);
  let keyring: Keyring | null = create ? null : await openKeyring(config.kek, { allowCreate: false, recorded: [] });
  const store = await openStore(config.store);
  try {
    await prepareSchema(store, opts.migrate ?? false);
    if (keyring === null) {
      const recorded = await store.read(NO_OWNERS, (db) => keyRepo.listKeyringKeys(db));
      keyring = await openKeyring(config.kek, { allowCreate: recorded.length === 0, recorded, ...(opts.warn ? { warn: opts.warn } : {}) });
      if (recorded.length === 0) logger.info({ kid: keyring.active.kid, provider: keyring.active.kind }, "using a new master key");
    }
    const keys = new KeyManager(store, keyring, { cacheTtlMs: config.scopeKeyCacheTtlMs, maxCachedKeys: config.maxCachedKeys });
    await keys.verifyKeyring();
    const audit = new AuditLog(store, keys);
    await audit.init();
    await keys.ensureInternalKey(REQUEST_DIGEST_PURPOSE);
    const authGuard = new AuthGuard({ store, audit, limit: config.rateLimits.auth });
    // Before anything is served: every secret row carries a state MAC of the current format from here on.
    const prepared = await prepareStateMacs({ store, keys, audit, state: new SecretStateMac(keys), now: () => new Date() });
    if (prepared !== null && prepared.refused > 0)
      logger.warn(
        { action: prepared.action, refused: prepared.refused },
        "secret rows whose state MAC does not verify were left as they are; reads refuse them (run coffer audit verify)",
      );
    if (prepared?.action === "integrity.upgrade") logger.info({ upgraded: prepared.upgraded }, "state MACs upgraded to format 2");
    const secrets = new SecretsService({
      store,
      keys,
      audit,
      logger,
      limiter: new RateLimiter(store, config.rateLimits),
      reauth: opts.reauth ?? recentAuthentication(config.reauthWindowMs),
      authGuard,
    });
    const tokens = new TokenService({ store, audit, guard: authGuard });
    const policy = { ...config.rotation, backupRetentionMs: config.backupRetentionMs };
    const ring = keyring;
    const deps = { store, keys, audit };
    const admin: AdminServices = {
      rotation: new KekRotation(deps, { backupRetentionMs: policy.backupRetentionMs }),
      autoRotation: new AutoRotation({ ...deps, policy }),
      rekey: new OwnerRekey(deps),
      erase: new CryptoErase(deps, { backupRetentionMs: policy.backupRetentionMs }),
      escrow: new KeyEscrow(deps),
      legacyImport: new LegacyImport(deps),
      status: new KeyStatusService(deps, policy),
      valueCheck: new ValueCheck(deps),
    };
    const health: Health = {
      ready: async () => {
        await store.read(NO_OWNERS, (db) => keyRepo.probe(db));
        return { kid: keys.keyring.active.kid };
      },
      activeKid: () => keys.keyring.active.kid,
    };
    const auditService: AuditService = {
      list: (actor, ctx, filter) => audit.listAs(actor, ctx, filter),
      verify: (actor, ctx, input) => audit.verifyAs(actor, ctx, input.anchor ?? null),
    };
    const core: Core = {
      secrets,
      generator: new SecretGenerator(secrets),
      templates: new TemplateService({ store, audit, secrets }),
      tokens,
      sessions: new ConsoleSessions({ store, tokens, audit, policy: config.consoleSession }),
      owners: new OwnerListing({ store, audit }),
      audit: auditService,
      admin,
      health,
      close: () => {
        ring.close();
        return store.close();
      },
    };
    rememberInternals(core, { store, keys, audit, policy });
    return core;
  } catch (e) {
    keyring?.close();
    await store.close();
    throw e;
  }
}

/**
 * The embedded SQLite store migrates itself (one user, one file). PostgreSQL, shared by
 * several servers, is migrated on purpose with `coffer migrate` (or `migrate: true`); until
 * then nothing runs against it.
 * @throws CofferError MIGRATIONS_PENDING, SCHEMA_TOO_NEW.
 */
async function prepareSchema(store: Store, migrate: boolean): Promise<void> {
  if (store.dialect === "sqlite" || migrate) {
    await store.migrate();
    return;
  }
  const status = await store.migrationStatus();
  if (status.pending.length > 0) {
    throw new CofferError("MIGRATIONS_PENDING", `the database needs migrations ${status.pending.join(", ")}; run: coffer migrate`, {
      migrations: status.pending,
    });
  }
}

export type MigrationReport = {
  readonly dialect: string;
  readonly applied: readonly string[];
  readonly alreadyApplied: readonly string[];
  readonly pending: readonly string[];
};

/** `coffer migrate`: applies pending migrations (or with `statusOnly` lists them). Needs no key. */
export async function migrateDatabase(config: Config, statusOnly: boolean): Promise<MigrationReport> {
  const store = await openStore(config.store);
  try {
    const before = await store.migrationStatus();
    const applied = statusOnly ? [] : await store.migrate();
    return { dialect: store.dialect, applied, alreadyApplied: before.applied, pending: statusOnly ? before.pending : [] };
  } finally {
    await store.close();
  }
}
