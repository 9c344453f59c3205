import { systemEffects, toHex, type Effects } from "../crypto/index.ts";
import { CofferError, isCofferError } from "../errors/index.ts";
import { ownerFromColumns, parseKid } from "../model/index.ts";
import { keyRepo, rotationRepo, type Store } from "../store/index.ts";
import type { Actor, RequestContext } from "./actor.ts";
import type { AuditLog } from "./audit-log.ts";
import type { KeyManager } from "./key-manager.ts";

export type RotationProgress = { readonly jobId: string; readonly toKid: string; readonly done: number; readonly total: number };
export type RotationReport = RotationProgress & {
  readonly resumed: boolean;
  readonly rewrappedScopeKeys: number;
  readonly rewrappedInternalKeys: number;
};
export type RetireReport = { readonly kid: string; readonly retiredAt: string };

const ALL = { kind: "all", why: "KEK rotation" } as const;

/**
 * KEK rotation: every scope key and internal key not yet wrapped by the active kid is
 * unwrapped with its own kid and rewrapped under the active one, a batch per transaction, so
 * reads and writes go on between batches. Progress is a `rotation_jobs` row; a job killed
 * midway is finished by running rotation again (`--resume`, or the next rotate): what is left
 * is exactly what is not under the active kid yet, so every batch is idempotent. Data keys
 * and values are not touched: O(owners), not O(secrets).
 */
export class KekRotation {
  readonly #store: Store;
  readonly #keys: KeyManager;
  readonly #audit: AuditLog;
  readonly #fx: Effects;

  constructor(core: { readonly store: Store; readonly keys: KeyManager; readonly audit: AuditLog }, fx: Effects = systemEffects) {
    this.#store = core.store;
    this.#keys = core.keys;
    this.#audit = core.audit;
    this.#fx = fx;
  }

  async rotate(
    actor: Actor,
    ctx: RequestContext,
    opts: { readonly batchSize: number; readonly onProgress?: (p: RotationProgress) => void },
  ): Promise<RotationReport> {
    const kek = this.#keys.keyring.active;
    const now = (): string => this.#fx.now().toISOString();
    const { job, resumed } = await this.#store.transaction(ALL, async (tx) => {
      const running = await rotationRepo.runningJob(tx, kek.kid);
      const total = await rotationRepo.countNotUnder(tx, kek.kid);
      if (running !== null) {
        await rotationRepo.updateJob(tx, running.id, { total: running.done + total, updated_at: now() });
        return { job: { ...running, total: running.done + total }, resumed: true };
      }
      const row = {
        id: `rj_${toHex(this.#fx.random(8))}`,
        from_kid: null,
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
        if (n < opts.batchSize) break;
      }
      const internal = await this.#store.transaction(ALL, async (tx) => {
        const rows = await rotationRepo.internalKeysNotUnder(tx, kek.kid);
        for (const row of rows) {
          const aad = { kind: "internal-key", purpose: row.purpose, keyId: row.id } as const;
          const key = await this.#keys.kekFor(row.kid).unwrap(row.wrapped_key, { ...aad, kid: row.kid });
          await rotationRepo.rewrapInternalKeyRow(tx, row.id, { kid: kek.kid, wrapped_key: await kek.wrap(key, { ...aad, kid: kek.kid }) });
        }
        if (rows.length > 0) await keyRepo.addWraps(tx, kek.kid, rows.length);
        await rotationRepo.updateJob(tx, job.id, { done: done + rows.length, state: "done", finished_at: now(), updated_at: now() });
        await this.#audit.append(tx, actor, ctx, {
          action: "admin.encryption.rotate",
          owner: null,
          key: null,
          version: null,
          outcome: "success",
          reason: null,
          details: { newKid: kek.kid, job: job.id, scopeKeys, internalKeys: rows.length },
        });
        return rows.length;
      });
      done += internal;
      opts.onProgress?.({ jobId: job.id, toKid: kek.kid, done, total: Math.max(job.total, done) });
      return {
        jobId: job.id,
        toKid: kek.kid,
        done,
        total: Math.max(job.total, done),
        resumed,
        rewrappedScopeKeys: scopeKeys,
        rewrappedInternalKeys: internal,
      };
    } catch (e) {
      await this.#audit.appendNow(actor, ctx, {
        action: "admin.encryption.rotate",
        owner: null,
        key: null,
        version: null,
        outcome: "error",
        reason: null,
        details: { newKid: kek.kid, job: job.id, code: isCofferError(e) ? e.code : "INTERNAL" },
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
