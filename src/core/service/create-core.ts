import type { Config } from "../config/index.ts";
import { kekNeedsCreation, loadKeyring, type Keyring } from "../keys/index.ts";
import { keyRepo, openSqliteStore, type Store } from "../store/index.ts";
import { AuditLog } from "./audit-log.ts";
import { KeyManager } from "./key-manager.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { SecretsService } from "./secrets-service.ts";

export type Core = {
  readonly secrets: SecretsService;
  readonly audit: AuditLog;
  readonly keys: KeyManager;
  readonly store: Store;
  close(): Promise<void>;
};

/**
 * The composition root of the core: store, keys and services, built once. Fail-closed: an
 * unusable key stops here, before anything is written (a key given by env or keyring file is
 * validated before the database is even opened).
 * @throws CofferError KEY_*, CONFIG_INVALID, SCHEMA_TOO_NEW.
 */
export async function createCore(config: Config, opts: { readonly logger?: Logger } = {}): Promise<Core> {
  const logger = opts.logger ?? silentLogger;
  const create = kekNeedsCreation(config.kek);
  let keyring: Keyring | null = create ? null : loadKeyring(config.kek, { allowCreate: false });
  const store = openSqliteStore(config.store);
  try {
    await store.migrate();
    if (keyring === null) {
      const used = (await keyRepo.listKeyringKeys(store.db)).length > 0;
      keyring = loadKeyring(config.kek, { allowCreate: !used });
      logger.info({ kid: keyring.active.kid }, "created a new master key");
    }
    const keys = new KeyManager(store, keyring, { cacheTtlMs: config.scopeKeyCacheTtlMs, maxCachedKeys: config.maxCachedKeys });
    await keys.verifyKeyring();
    const audit = new AuditLog(store, keys);
    await audit.init();
    const secrets = new SecretsService({ store, keys, audit, logger });
    return { secrets, audit, keys, store, close: () => store.close() };
  } catch (e) {
    await store.close();
    throw e;
  }
}
