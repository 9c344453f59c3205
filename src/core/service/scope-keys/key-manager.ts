import { CofferError } from "../../errors/index.ts";
import { AesKey, constantTimeEqual, systemEffects, toHex, type Effects, type WrapAad } from "../../crypto/index.ts";
import type { KekProvider, Keyring } from "../../keys/index.ts";
import { formatOwner, ownerFromColumns, ownerIdColumn, sameOwner, type Owner } from "../../model/index.ts";
import { keyRepo, NO_OWNERS, type Executor, type Store } from "../../store/index.ts";
import { ownerScope } from "../access/scopes.ts";

export type KeyManagerOptions = {
  /** How long an unwrapped scope key stays in memory. */
  readonly cacheTtlMs: number;
  /** At most this many unwrapped keys are cached (least recently used go first). */
  readonly maxCachedKeys: number;
  readonly fx?: Effects;
};

type Cached = { readonly key: AesKey; readonly expiresAt: number };
export type ScopeKey = { readonly id: string; readonly key: AesKey };

function newKeyId(prefix: string, fx: Effects): string {
  return `${prefix}_${toHex(fx.random(16))}`;
}

/**
 * The middle of the key hierarchy: scope keys (one per owner) and internal keys, wrapped by
 * the keyring's KEKs. Unwrapped keys are cached for a bounded time and count, so reads do not
 * pay a KEK round trip each; a key is cached only after the transaction that created it
 * committed, so a rolled-back creation can never be used to wrap data.
 */
export class KeyManager {
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #opts: KeyManagerOptions;
  readonly #fx: Effects;
  readonly #cache = new Map<string, Cached>();
  /** Unwraps under way, by key id: concurrent misses for one key make one KEK call, not many. */
  readonly #inflight = new Map<string, Promise<AesKey>>();
  readonly #activeByOwner = new Map<string, string>();
  readonly #internalByPurpose = new Map<string, string>();
  #retired = new Map<string, string>();

  constructor(store: Store, keyring: Keyring, opts: KeyManagerOptions) {
    this.#store = store;
    this.#keyring = keyring;
    this.#opts = opts;
    this.#fx = opts.fx ?? systemEffects;
  }

  get keyring(): Keyring {
    return this.#keyring;
  }

  /**
   * Boot check, fail-closed: the active KEK must wrap and unwrap a test key, and every
   * configured kid must match the fingerprint this database recorded for it.
   * @throws CofferError KEY_MISMATCH or KEY_INVALID naming the kid and what to do.
   */
  async verifyKeyring(): Promise<void> {
    const active = this.#keyring.active;
    const probe = AesKey.generate(this.#fx);
    const aad: WrapAad = { kind: "probe", kid: active.kid };
    const back = await active.unwrap(await active.wrap(probe, aad), aad);
    if (!constantTimeEqual(back.exportBytes(), probe.exportBytes())) {
      throw new CofferError("KEY_INVALID", `the active key '${active.kid}' failed its wrap/unwrap self-test`, { kid: active.kid });
    }
    const known = new Map((await this.#store.read(NO_OWNERS, (db) => keyRepo.listKeyringKeys(db))).map((r) => [r.kid, r]));
    this.#retired = new Map([...known.values()].filter((r) => r.retired_at !== null).map((r) => [r.kid, r.retired_at ?? ""]));
    if (this.#retired.has(active.kid)) {
      throw new CofferError("KEY_RETIRED", `the active kid '${active.kid}' was retired; make another kid active in the keyring`, {
        kid: active.kid,
      });
    }
    const now = this.#fx.now().toISOString();
    for (const info of this.#keyring.describe()) {
      const row = known.get(info.kid);
      if (row !== undefined && row.fingerprint !== info.fingerprint) {
        throw new CofferError(
          "KEY_MISMATCH",
          `the configured key for kid '${info.kid}' (fingerprint ${info.fingerprint}) is not the key this database was written with (fingerprint ${row.fingerprint}); configure the original key for '${info.kid}'`,
          { kid: info.kid },
        );
      }
      if (row !== undefined && info.kid === active.kid && row.activated_at === null) {
        // Made active by a rotation that stopped before it told the database.
        await this.#store.transaction(NO_OWNERS, (tx) => keyRepo.markActivated(tx, info.kid, now));
      }
      if (row === undefined) {
        const activatedAt = info.kid === active.kid ? now : null;
        await this.#store.transaction(NO_OWNERS, (tx) =>
          keyRepo.insertKeyringKey(tx, {
            kid: info.kid,
            provider: info.provider,
            fingerprint: info.fingerprint,
            created_at: now,
            activated_at: activatedAt,
            retired_at: null,
            wrap_count: 0,
          }),
        );
      }
    }
  }

  /** Records a kid minted or made active at run time (a rotation), with its fingerprint, in `tx`. */
  async recordKid(tx: Executor, kid: string, activatedAt: string | null): Promise<void> {
    const info = this.#keyring.get(kid).describe();
    const known = (await keyRepo.listKeyringKeys(tx)).find((r) => r.kid === kid);
    if (known !== undefined && known.fingerprint !== info.fingerprint) {
      throw new CofferError(
        "KEY_MISMATCH",
        `kid '${kid}' was recorded by this database with another key (fingerprint ${known.fingerprint}, not ${info.fingerprint}); choose another kid`,
        { kid },
      );
    }
    if (known !== undefined && known.retired_at !== null) {
      throw new CofferError("KEY_RETIRED", `kid '${kid}' was retired at ${known.retired_at}; a retired kid is never used again`, { kid });
    }
    if (known === undefined) {
      await keyRepo.insertKeyringKey(tx, {
        kid,
        provider: info.provider,
        fingerprint: info.fingerprint,
        created_at: this.#fx.now().toISOString(),
        activated_at: activatedAt,
        retired_at: null,
        wrap_count: 0,
      });
    } else if (activatedAt !== null) await keyRepo.markActivated(tx, kid, activatedAt);
  }

  /** The owner's active scope key, created (in its own committed transaction) on first use. */
  async activeScopeKey(owner: Owner): Promise<ScopeKey> {
    const ownerKey = formatOwner(owner);
    const cachedId = this.#activeByOwner.get(ownerKey);
    const cached = cachedId === undefined ? null : this.#fromCache(cachedId);
    if (cachedId !== undefined && cached !== null) return { id: cachedId, key: cached };
    const cols = { ownerType: owner.kind, ownerId: ownerIdColumn(owner) };
    const created = await this.#store.transaction(ownerScope(owner), async (tx): Promise<ScopeKey> => {
      const row = await keyRepo.findActiveScopeKey(tx, cols);
      if (row !== null) return { id: row.id, key: await this.#unwrapScopeKey(row, owner) };
      const created = await this.#insertNewScopeKey(tx, owner);
      if (created !== null) return created;
      // Another server created this owner's scope key first: use theirs.
      const winner = await keyRepo.findActiveScopeKey(tx, cols);
      if (winner === null) throw new CofferError("INTERNAL", "a concurrently created scope key vanished", { owner: formatOwner(owner) });
      return { id: winner.id, key: await this.#unwrapScopeKey(winner, owner) };
    });
    this.#remember(created.id, created.key);
    this.#activeByOwner.set(ownerKey, created.id);
    return created;
  }

  /**
   * Inside a write transaction: is the cached scope key still the owner's active key? When it
   * is not (the owner was erased or rekeyed, here or by another server), the cache entry is
   * dropped and the caller retries with a fresh key.
   */
  async confirmActive(tx: Executor, owner: Owner, scopeKeyId: string): Promise<boolean> {
    if (await keyRepo.scopeKeyStillActive(tx, scopeKeyId)) return true;
    this.forgetOwner(owner);
    this.#cache.delete(scopeKeyId);
    return false;
  }

  /**
   * Rekey, inside the caller's transaction: retires the owner's active scope key and inserts a
   * new one wrapped by the active KEK. Returns every scope key the owner had (unwrapped, to
   * rewrap their DEKs) and the new one. The caller deletes the old rows once nothing refers to
   * them, and calls {@link forgetOwner} after commit.
   */
  async replaceScopeKey(tx: Executor, owner: Owner): Promise<{ readonly previous: readonly ScopeKey[]; readonly fresh: ScopeKey }> {
    const cols = { ownerType: owner.kind, ownerId: ownerIdColumn(owner) };
    const rows = await keyRepo.lockOwnerScopeKeys(tx, cols);
    const previous: ScopeKey[] = [];
    for (const row of rows) previous.push({ id: row.id, key: await this.#unwrapScopeKey(row, owner) });
    await keyRepo.retireOwnerScopeKeys(tx, cols);
    const fresh = await this.#insertNewScopeKey(tx, owner);
    if (fresh === null) {
      throw new CofferError("CONFLICT", `${formatOwner(owner)} got a new scope key concurrently; try again`, { owner: formatOwner(owner) });
    }
    return { previous, fresh };
  }

  /**
   * A new random scope key for the owner, wrapped by the active KEK and inserted as its active
   * key; null when the owner already has an active key (a concurrent creation won).
   */
  async #insertNewScopeKey(tx: Executor, owner: Owner): Promise<ScopeKey | null> {
    const id = newKeyId("sk", this.#fx);
    const key = AesKey.generate(this.#fx);
    const kek = this.#keyring.active;
    const wrapped = await kek.wrap(key, { kind: "scope-key", owner, scopeKeyId: id, kid: kek.kid });
    const inserted = await keyRepo.insertActiveScopeKey(tx, {
      id,
      owner_type: owner.kind,
      owner_id: ownerIdColumn(owner),
      kid: kek.kid,
      wrapped_key: wrapped,
      state: "active",
      created_at: this.#fx.now().toISOString(),
      rewrapped_at: null,
    });
    if (!inserted) return null;
    await keyRepo.addWraps(tx, kek.kid, 1);
    return { id, key };
  }

  /** Drops an owner's cached scope key (after a crypto-erase): its key leaves memory too. */
  forgetOwner(owner: Owner): void {
    const key = formatOwner(owner);
    const id = this.#activeByOwner.get(key);
    this.#activeByOwner.delete(key);
    if (id !== undefined) this.#cache.delete(id);
  }

  /**
   * The scope key a stored version names, checked to belong to `owner`.
   * @throws CofferError DECRYPT_FAILED when the row is missing or belongs to another owner
   * (a moved ciphertext), KEY_NOT_FOUND when its kid is not configured.
   */
  async scopeKeyById(db: Executor, id: string, owner: Owner): Promise<AesKey> {
    const cached = this.#fromCache(id);
    if (cached !== null) return cached;
    const row = await keyRepo.findScopeKey(db, id);
    if (row === null || !sameOwner(ownerFromColumns(row.owner_type, row.owner_id), owner)) {
      throw new CofferError(
        "DECRYPT_FAILED",
        `the scope key of ${formatOwner(owner)} named by this version does not exist or belongs to another owner`,
        { owner: formatOwner(owner), scopeKeyId: id },
      );
    }
    const key = await this.#once(id, () => this.#unwrapScopeKey(row, owner));
    this.#remember(id, key);
    return key;
  }

  #once(id: string, unwrap: () => Promise<AesKey>): Promise<AesKey> {
    let pending = this.#inflight.get(id);
    if (pending === undefined) {
      pending = unwrap().finally(() => this.#inflight.delete(id));
      this.#inflight.set(id, pending);
    }
    return pending;
  }

  /**
   * Makes sure the internal key for `purpose` (e.g. the audit MAC key) exists, creating it in
   * a transaction of its own. Called at boot, so later lookups inside other transactions never
   * need to create one.
   */
  async ensureInternalKey(purpose: string): Promise<void> {
    if ((await this.#store.read(NO_OWNERS, (db) => keyRepo.findInternalKey(db, purpose))) !== null) return;
    await this.#store.transaction(NO_OWNERS, async (tx) => {
      await keyRepo.lockInternalKeys(tx);
      if ((await keyRepo.findInternalKey(tx, purpose)) !== null) return;
      const id = newKeyId("ik", this.#fx);
      const key = AesKey.generate(this.#fx);
      const kek = this.#keyring.active;
      const wrapped = await kek.wrap(key, { kind: "internal-key", purpose, keyId: id, kid: kek.kid });
      await keyRepo.insertInternalKey(tx, { id, purpose, kid: kek.kid, wrapped_key: wrapped, created_at: this.#fx.now().toISOString() });
      await keyRepo.addWraps(tx, kek.kid, 1);
    });
  }

  /**
   * The internal key for `purpose`, read through `db` (which may be a transaction).
   * @throws CofferError KEY_NOT_FOUND when it does not exist, DECRYPT_FAILED when it does not unwrap.
   */
  async internalKey(db: Executor, purpose: string): Promise<ScopeKey> {
    const id = this.#internalByPurpose.get(purpose);
    const cached = id === undefined ? null : this.#fromCache(id);
    if (id !== undefined && cached !== null) return { id, key: cached };
    const row = await keyRepo.findInternalKey(db, purpose);
    if (row === null) throw new CofferError("KEY_NOT_FOUND", `the ${purpose} key is missing from the database`, { purpose });
    const key = await this.#unwrapInternal(row);
    this.#internalByPurpose.set(purpose, row.id);
    return { id: row.id, key };
  }

  /**
   * The internal key for `purpose` when this process holds it fresh in its cache, with the time
   * (ms since the epoch, system clock) its cache entry expires, else null: synchronous, for a read path that
   * runs on every request (the state MAC check), which may reuse the key until then without
   * asking again. A null answer sends the caller to {@link internalKey}, which loads and caches it.
   */
  peekInternalKey(purpose: string): (ScopeKey & { readonly expiresAt: number }) | null {
    const id = this.#internalByPurpose.get(purpose);
    const key = id === undefined ? null : this.#fromCache(id);
    const hit = id === undefined ? undefined : this.#cache.get(id);
    if (id === undefined || key === null || hit === undefined) return null;
    // `expiresAt` is on the system clock (Date.now()); with another clock (a test's) it is 0, so a
    // caller never reuses the key past this manager's own idea of its expiry.
    return { id, key, expiresAt: this.#fx === systemEffects ? hit.expiresAt : 0 };
  }

  /** @throws CofferError KEY_NOT_FOUND when the key row is gone, DECRYPT_FAILED when it does not unwrap. */
  async internalKeyById(db: Executor, id: string): Promise<AesKey> {
    const cached = this.#fromCache(id);
    if (cached !== null) return cached;
    const row = await keyRepo.findInternalKeyById(db, id);
    if (row === null) throw new CofferError("KEY_NOT_FOUND", `internal key ${id} is missing from the database`, { keyId: id });
    return this.#unwrapInternal(row);
  }

  async #unwrapInternal(row: keyRepo.InternalKeyRow): Promise<AesKey> {
    const aad = { kind: "internal-key", purpose: row.purpose, keyId: row.id, kid: row.kid } as const;
    const key = await this.#once(row.id, () => this.kekFor(row.kid).unwrap(row.wrapped_key, aad));
    this.#remember(row.id, key);
    return key;
  }

  /** The KEK for a stored kid: refused when that kid was retired (fail closed, never a guess). */
  kekFor(kid: string): KekProvider {
    const retiredAt = this.#retired.get(kid);
    if (retiredAt !== undefined) {
      throw new CofferError(
        "KEY_RETIRED",
        `data is wrapped by kid '${kid}', retired at ${retiredAt}; retired keys never unwrap (a database restored from an old backup?)`,
        { kid },
      );
    }
    return this.#keyring.get(kid);
  }

  async #unwrapScopeKey(row: keyRepo.ScopeKeyRow, owner: Owner): Promise<AesKey> {
    return this.kekFor(row.kid).unwrap(row.wrapped_key, { kind: "scope-key", owner, scopeKeyId: row.id, kid: row.kid });
  }

  #fromCache(id: string): AesKey | null {
    const hit = this.#cache.get(id);
    if (hit === undefined) return null;
    this.#cache.delete(id);
    if (hit.expiresAt <= this.#fx.now().getTime()) return null;
    this.#cache.set(id, hit);
    return hit.key;
  }

  #remember(id: string, key: AesKey): void {
    this.#cache.set(id, { key, expiresAt: this.#fx.now().getTime() + this.#opts.cacheTtlMs });
    while (this.#cache.size > this.#opts.maxCachedKeys) {
      const oldest = this.#cache.keys().next();
      if (oldest.done === true) break;
      this.#cache.delete(oldest.value);
    }
  }
}
