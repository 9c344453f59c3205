import type { Config } from "../config/index.ts";
import { kekNeedsCreation, openKeyring, type Keyring } from "../keys/index.ts";
import { CofferError } from "../errors/index.ts";
import { keyRepo, NO_OWNERS, openStore, type Store } from "../store/index.ts";
import { AuditLog } from "./audit-log.ts";
import { KeyManager } from "./key-manager.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { REQUEST_DIGEST_PURPOSE, SecretsService } from "./secrets-service.ts";
import { RateLimiter, recentAuthentication, type ReauthHook } from "./guard.ts";
import { TokenService } from "./tokens.ts";
import { AuthGuard } from "./auth-guard.ts";
import { backfillStateMacs } from "./integrity-marks.ts";
import { SecretStateMac } from "./secret-state.ts";
import { SecretGenerator } from "./secret-generate.ts";
import { TemplateService } from "./templates.ts";
import { ConsoleSessions } from "./console-sessions.ts";
import { OwnerListing } from "./owner-listing.ts";

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
  /** The configured rotation policy and backup retention, for key status. */
  readonly policy: { readonly maxWraps: number; readonly maxAgeMs: number; readonly backupRetentionMs: number | null };
  readonly audit: AuditLog;
  readonly keys: KeyManager;
  readonly store: Store;
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
    // Before anything is served: every secret row carries a state MAC from here on.
    await backfillStateMacs({ store, keys, audit, state: new SecretStateMac(keys), now: () => new Date() });
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
    return {
      secrets,
      generator: new SecretGenerator(secrets),
      templates: new TemplateService({ store, audit, secrets }),
      tokens,
      sessions: new ConsoleSessions({ store, tokens, audit, policy: config.consoleSession }),
      owners: new OwnerListing({ store, audit }),
      policy,
      audit,
      keys,
      store,
      close: () => {
        ring.close();
        return store.close();
      },
    };
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
