import { systemEffects, toHex, type Effects } from "../../../crypto/index.ts";
import { CofferError, isCofferError } from "../../../errors/index.ts";
import { crashPoint, type KeyStorage, type Keyring } from "../../../keys/index.ts";
import { ownerFromColumns, parseKid, type Kid } from "../../../model/index.ts";
import { keyRepo, rotationRepo, type Store } from "../../../store/index.ts";
import type { Actor, RequestContext } from "../../access/actor.ts";
import type { AuditLog } from "../../audit/audit-log.ts";
import type { KeyManager } from "../../scope-keys/key-manager.ts";
import { AccessGate } from "../../access/gate.ts";

export type RotationProgress = { readonly jobId: string; readonly toKid: string; readonly done: number; readonly total: number };
export type RotationReport = RotationProgress & {
  /** The kid the data was moved away from (null for a job that finished a hand-made switch). */
  readonly fromKid: string | null;
  /** Did this run mint the new key (false: it finished a rotation, or switched to an existing kid)? */
  readonly minted: boolean;
  readonly resumed: boolean;
  readonly rewrappedScopeKeys: number;
  readonly rewrappedInternalKeys: number;
  /** When the old kid becomes safe to retire (backups older than this rotation aged out); null without a backup retention. */
  readonly oldKidSafeToRetireAt: string | null;
};
export type RetireReport = { readonly kid: string; readonly retiredAt: string };

export type RotateOptions = {
  readonly batchSize: number;
  readonly onProgress?: (p: RotationProgress) => void;
  /** Only finish an interrupted rotation; never mint or switch. */
  readonly resume?: boolean;
  /** The kid of the key to mint (default: a dated one, `k2026-12-02`, `-2`, `-3`… on a collision). */
  readonly kid?: string;
  /** Switch to this configured kid (a key the operator created, e.g. in a cloud KMS) instead of minting. */
  readonly toKid?: string;
  /** How long database backups are kept, to say when the old kid becomes safe to retire. */
  readonly backupRetentionMs?: number | null;
  /** Started by the server's automatic rotation policy (audited as such). */
  readonly auto?: boolean;
};

const ALL = { kind: "all", why: "KEK rotation" } as const;

/** One rotation at a time per keyring (two admin requests at once must not mint two keys). */
const running = new WeakMap<Keyring, Promise<unknown>>();

/**
 * KEK rotation. Unless data is still left under an older kid (an interrupted rotation, or a
 * kid switched by hand), it first gets a new active kid: it mints a new key where the provider
 * can (file, keyring file), or switches to a configured kid (`toKid`). The steps, each durable,
 * in crash-safe order:
 *
 * 1. mint: the key is stored and recorded as `pending` by the key storage (a kill here: the
 *    old kid stays active; the next rotation uses the pending key instead of minting another);
 * 2. the database records the new kid (fingerprint) and a running job old → new (a kill here:
 *    the next rotation, or the server's start, finds the job and finishes the activation);
 * 3. the storage records the new kid as active, and so does this process's keyring;
 * 4. every scope key and internal key not yet wrapped by the active kid is unwrapped with its
 *    own kid and rewrapped under the active one, a batch per transaction, so reads and writes
 *    go on between batches (a kill here: what is left is exactly what is not under the active
 *    kid yet, so running rotation again finishes it).
 *
 * Data keys and values are not touched: O(owners), not O(secrets).
 */
export class KekRotation {
  readonly #store: Store;
  readonly #keys: KeyManager;
  readonly #audit: AuditLog;
  readonly #gate: AccessGate;
  readonly #fx: Effects;

  readonly #retentionMs: number | null;

  /** `backupRetentionMs`: the configured retention, used when a rotation does not give its own. */
  constructor(
    core: { readonly store: Store; readonly keys: KeyManager; readonly audit: AuditLog },
    opts: { readonly fx?: Effects; readonly backupRetentionMs?: number | null } = {},
  ) {
    const fx = opts.fx ?? systemEffects;
    this.#retentionMs = opts.backupRetentionMs ?? null;
    this.#store = core.store;
    this.#keys = core.keys;
    this.#audit = core.audit;
    this.#fx = fx;
    this.#gate = new AccessGate(core.audit);
  }

  async rotate(actor: Actor, ctx: RequestContext, opts: RotateOptions): Promise<RotationReport> {
    await this.#gate.admin(actor, ctx, "admin.encryption.rotate");
    const ring = this.#keys.keyring;
    const before = running.get(ring) ?? Promise.resolve();
    const mine = before.catch(() => undefined).then(() => this.#rotate(actor, ctx, opts));
    running.set(ring, mine);
    try {
      return await mine;
    } finally {
      if (running.get(ring) === mine) running.delete(ring);
    }
  }

  async #rotate(actor: Actor, ctx: RequestContext, opts: RotateOptions): Promise<RotationReport> {
    const ring = this.#keys.keyring;
    const fromKid = ring.active.kid;
    const { left, stale } = await this.#store.read(ALL, async (db) => ({
      left: await rotationRepo.countNotUnder(db, fromKid),
      stale: await rotationRepo.anyRunningJob(db),
    }));
    if (opts.kid !== undefined) parseKid(opts.kid, "kid");
    if (opts.toKid !== undefined) parseKid(opts.toKid, "toKid");
    const interrupted = stale !== null && stale.to_kid !== fromKid && ring.has(stale.to_kid) ? stale : null;
    if (interrupted === null && (opts.resume === true || left > 0 || stale?.to_kid === fromKid)) {
      if (left > 0 && (opts.kid !== undefined || opts.toKid !== undefined)) {
        throw new CofferError(
          "CONFLICT",
          `${String(left)} keys are not yet wrapped by the active kid '${fromKid}' (an interrupted rotation); finish it first: coffer keys rotate --resume`,
          { left },
        );
      }
      return this.#rewrap(actor, ctx, opts, { fromKid: stale?.from_kid ?? null, minted: false, startedHere: false });
    }
    let target: Kid;
    let minted = false;
    if (interrupted !== null) {
      target = parseKid(interrupted.to_kid);
    } else if (opts.toKid !== undefined) {
      target = parseKid(opts.toKid, "toKid");
      if (target === fromKid) throw new CofferError("INVALID_INPUT", `toKid: '${target}' is already the active kid`, { field: "toKid" });
      if (!ring.has(target)) {
        throw new CofferError(
          "KEY_NOT_FOUND",
          `toKid: kid '${target}' is not in the configured keyring; Coffer does not create cloud keys: create the key in its service, add it to the keyring file under that kid, then run this again`,
          { kid: target },
        );
      }
    } else {
      const storage = ring.minting.storage;
      const refusal = ring.mintRefusal();
      if (refusal !== null || storage === null) {
        throw new CofferError("KEY_CANNOT_MINT", refusal ?? "this key provider cannot store a new key", { kid: fromKid });
      }
      const pending = storage.pending;
      if (pending !== null && pending !== fromKid && ring.has(pending) && (opts.kid === undefined || opts.kid === pending)) {
        target = pending; // minted by a rotation killed before it was activated
        minted = true;
      } else {
        target = await this.#newKid(storage, opts.kid);
        ring.add(await storage.mint(target));
        minted = true;
      }
    }
    const now = (): string => this.#fx.now().toISOString();
    if (interrupted === null) {
      const total = await this.#store.read(ALL, (db) => rotationRepo.countNotUnder(db, target));
      const id = `rj_${toHex(this.#fx.random(8))}`;
      await this.#store.transaction(ALL, async (tx) => {
        await this.#keys.recordKid(tx, target, null);
        await rotationRepo.insertJob(tx, {
          id,
          from_kid: fromKid,
          to_kid: target,
          state: "running",
          cursor: null,
          total,
          done: 0,
          started_at: now(),
          updated_at: now(),
          finished_at: null,
          error_code: null,
        });
      });
    }
    await ring.minting.storage?.activate(target);
    crashPoint("key-activated");
    ring.activate(target);
    await this.#store.transaction(ALL, (tx) => this.#keys.recordKid(tx, target, now()));
    return this.#rewrap(actor, ctx, opts, { fromKid: interrupted?.from_kid ?? fromKid, minted, startedHere: interrupted === null });
  }

  /** A kid for a new key: `opts.kid` (refused when taken), else `k<date>`, `-2`, `-3`… until free. */
  async #newKid(storage: KeyStorage, wanted: string | undefined): Promise<Kid> {
    const recorded = new Set((await this.#store.read(ALL, (db) => keyRepo.listKeyringKeys(db))).map((r) => r.kid));
    const free = (k: Kid): boolean => !recorded.has(k) && !storage.taken(k) && !this.#keys.keyring.has(k);
    if (wanted !== undefined) {
      const k = parseKid(wanted, "kid");
      if (!free(k))
        throw new CofferError(
          "CONFLICT",
          `kid: '${k}' is already used by a key of this database or its ${storage.what}; choose another --kid`,
          { kid: k },
        );
      return k;
    }
    const base = `k${this.#fx.now().toISOString().slice(0, 10)}`;
    for (let i = 1; ; i++) {
      const k = parseKid(i === 1 ? base : `${base}-${String(i)}`);
      if (free(k)) return k;
    }
  }

  async #rewrap(
    actor: Actor,
    ctx: RequestContext,
    opts: RotateOptions,
    info: { readonly fromKid: string | null; readonly minted: boolean; readonly startedHere: boolean },
  ): Promise<RotationReport> {
    const kek = this.#keys.keyring.active;
    const now = (): string => this.#fx.now().toISOString();
    const { job, resumed } = await this.#store.transaction(ALL, async (tx) => {
      const running = await rotationRepo.runningJob(tx, kek.kid);
      const total = await rotationRepo.countNotUnder(tx, kek.kid);
      if (running !== null) {
        await rotationRepo.updateJob(tx, running.id, { total: running.done + total, updated_at: now() });
        return { job: { ...running, total: running.done + total }, resumed: !info.startedHere };
      }
      const row = {
        id: `rj_${toHex(this.#fx.random(8))}`,
        from_kid: info.fromKid,
        to_kid: kek.kid,
        state: "running",
        cursor: null,
        total,
        done: 0,
        started_at: now(),
        updated_at: now(),
        finished_at: null,
        error_code: null,
      };
      await rotationRepo.insertJob(tx, row);
      return { job: row, resumed: false };
    });
    const fromKid = job.from_kid ?? info.fromKid;
    let [done, scopeKeys] = [job.done, 0];
    try {
      for (;;) {
        const n = await this.#store.transaction(ALL, async (tx) => {
          const rows = await rotationRepo.scopeKeysNotUnder(tx, kek.kid, opts.batchSize);
          for (const row of rows) {
            const owner = ownerFromColumns(row.owner_type, row.owner_id);
            const key = await this.#keys
              .kekFor(row.kid)
              .unwrap(row.wrapped_key, { kind: "scope-key", owner, scopeKeyId: row.id, kid: row.kid });
            const wrapped = await kek.wrap(key, { kind: "scope-key", owner, scopeKeyId: row.id, kid: kek.kid });
            await rotationRepo.rewrapScopeKeyRow(tx, row.id, { kid: kek.kid, wrapped_key: wrapped, rewrapped_at: now() });
          }
          if (rows.length > 0) await keyRepo.addWraps(tx, kek.kid, rows.length);
          await rotationRepo.updateJob(tx, job.id, { done: done + rows.length, cursor: rows.at(-1)?.id ?? null, updated_at: now() });
          return rows.length;
        });
        done += n;
        scopeKeys += n;
        opts.onProgress?.({ jobId: job.id, toKid: kek.kid, done, total: job.total });
        if (n > 0) crashPoint("mid-rewrap");
        if (n < opts.batchSize) break;
      }
      const finishedAt = now();
      const internal = await this.#store.transaction(ALL, async (tx) => {
        const rows = await rotationRepo.internalKeysNotUnder(tx, kek.kid);
        for (const row of rows) {
          const aad = { kind: "internal-key", purpose: row.purpose, keyId: row.id } as const;
          const key = await this.#keys.kekFor(row.kid).unwrap(row.wrapped_key, { ...aad, kid: row.kid });
          await rotationRepo.rewrapInternalKeyRow(tx, row.id, { kid: kek.kid, wrapped_key: await kek.wrap(key, { ...aad, kid: kek.kid }) });
        }
        if (rows.length > 0) await keyRepo.addWraps(tx, kek.kid, rows.length);
        await rotationRepo.updateJob(tx, job.id, {
          done: done + rows.length,
          state: "done",
          finished_at: finishedAt,
          updated_at: finishedAt,
        });
        await this.#audit.append(tx, actor, ctx, {
          action: "admin.encryption.rotate",
          owner: null,
          key: null,
          version: null,
          outcome: "success",
          reason: null,
          details: {
            newKid: kek.kid,
            oldKid: fromKid ?? "",
            minted: info.minted,
            auto: opts.auto === true,
            job: job.id,
            scopeKeys,
            internalKeys: rows.length,
          },
        });
        return rows.length;
      });
      done += internal;
      opts.onProgress?.({ jobId: job.id, toKid: kek.kid, done, total: Math.max(job.total, done) });
      const retention = opts.backupRetentionMs === undefined ? this.#retentionMs : opts.backupRetentionMs;
      return {
        jobId: job.id,
        fromKid,
        toKid: kek.kid,
        minted: info.minted,
        done,
        total: Math.max(job.total, done),
        resumed,
        rewrappedScopeKeys: scopeKeys,
        rewrappedInternalKeys: internal,
        oldKidSafeToRetireAt:
          retention === null || fromKid === null || fromKid === kek.kid ? null : new Date(Date.parse(finishedAt) + retention).toISOString(),
      };
    } catch (e) {
      await this.#audit.appendNow(actor, ctx, {
        action: "admin.encryption.rotate",
        owner: null,
        key: null,
        version: null,
        outcome: "error",
        reason: null,
        details: {
          newKid: kek.kid,
          oldKid: fromKid ?? "",
          auto: opts.auto === true,
          job: job.id,
          code: isCofferError(e) ? e.code : "INTERNAL",
        },
      });
      throw e;
    }
  }

  /**
   * Marks a kid retired, refused while anything still depends on it or while it is active.
   * After this, data wrapped by it fails with KEY_RETIRED; delete it from the keyring (and its
   * backups) once database backups older than the rotation have aged out.
   */
  async retire(actor: Actor, ctx: RequestContext, input: { readonly kid: string }): Promise<RetireReport> {
    await this.#gate.admin(actor, ctx, "keys.retire");
    const kid = parseKid(input.kid);
    if (kid === this.#keys.keyring.active.kid)
      throw new CofferError("INVALID_INPUT", `kid: '${kid}' is the active kid; make another kid active and rotate first`, { field: "kid" });
    const at = this.#fx.now().toISOString();
    await this.#store.transaction(ALL, async (tx) => {
      const known = (await keyRepo.listKeyringKeys(tx)).some((r) => r.kid === kid);
      if (!known) throw new CofferError("KEY_NOT_FOUND", `kid '${kid}' is not known to this database`, { kid });
      const d = await rotationRepo.dependentsOf(tx, kid);
      if (d.scopeKeys + d.internalKeys > 0) {
        throw new CofferError(
          "CONFLICT",
          `kid '${kid}' still wraps ${String(d.scopeKeys)} scope keys and ${String(d.internalKeys)} internal keys; run: coffer keys rotate`,
          { kid, scopeKeys: d.scopeKeys, internalKeys: d.internalKeys },
        );
      }
      await rotationRepo.retireKid(tx, kid, at);
      await this.#audit.append(tx, actor, ctx, {
        action: "keys.retire",
        owner: null,
        key: null,
        version: null,
        outcome: "success",
        reason: null,
        details: { kid },
      });
    });
    return { kid, retiredAt: at };
  }
}
