import { systemEffects, toHex, type Effects } from "../../../crypto/index.ts";
import { isCofferError } from "../../../errors/index.ts";
import { leaseRepo, NO_OWNERS, type Store } from "../../../store/index.ts";
import type { Actor, RequestContext } from "../../access/actor.ts";
import type { KeyManager } from "../../scope-keys/key-manager.ts";
import type { RotationReport } from "./kek-rotation.ts";
import { keyStatus, type StatusPolicy } from "../status/key-status.ts";
import type { AuditLog } from "../../audit/audit-log.ts";
import { AccessGate } from "../../access/gate.ts";

export type AutoRotationOutcome = "not_due" | "rotated" | "other_server" | "cannot_mint" | "failed";

/** The lease every server asks for before an automatic rotation: only one holds it at a time. */
export const ROTATION_LEASE = "kek-rotation";

/**
 * The automatic rotation of `coffer serve` (`COFFER_AUTO_ROTATE=1`): when the rotation policy
 * (`COFFER_ROTATE_AFTER`, `COFFER_ROTATE_AFTER_WRAPS`) says the active kid is due and the
 * provider can mint, one server — the one that takes the `kek-rotation` lease in the database —
 * mints a new key and rotates to it, audited as `admin.encryption.rotate` with `auto: true`.
 * The others see the lease taken (or, after it, a kid that is no longer due) and do nothing.
 * The lease outlives a crashed holder only until it expires; the interrupted rotation is then
 * finished by the next check or start, as any rotation is. Retiring stays a human decision.
 */
type AutoRotationDeps = {
  readonly store: Store;
  readonly keys: KeyManager;
  readonly audit: AuditLog;
  readonly policy: Omit<StatusPolicy, "now">;
};

export class AutoRotation {
  readonly #core: AutoRotationDeps;
  readonly #gate: AccessGate;
  readonly #holder: string;
  readonly #leaseMs: number;
  readonly #fx: Effects;

  constructor(core: AutoRotationDeps, opts: { readonly leaseMs?: number; readonly fx?: Effects } = {}) {
    this.#core = core;
    this.#gate = new AccessGate(core.audit);
    this.#fx = opts.fx ?? systemEffects;
    this.#holder = `srv_${toHex(this.#fx.random(8))}`;
    this.#leaseMs = opts.leaseMs ?? 30 * 60_000;
  }

  async #due(): Promise<boolean> {
    const status = await keyStatus(this.#core, { ...this.#core.policy, now: this.#fx.now() });
    return status.keys.some((k) => k.active && k.rotationDue);
  }

  /**
   * At a server's start: resumes a rotation that a crashed process left running — but only
   * while this server holds the `kek-rotation` lease. A live server that holds it is rotating
   * now (its job shows as running too) and finishes the job itself; resuming it here as well
   * would race it with a keyring loaded before that server minted its key. `rotate` runs the
   * resumed rotation; the lease is released when it ends.
   */
  async resumeInterrupted(
    actor: Actor,
    ctx: RequestContext,
    rotate: () => Promise<RotationReport | null>,
  ): Promise<"resumed" | "nothing_to_resume" | "other_server"> {
    await this.#gate.admin(actor, ctx, "admin.encryption.rotate");
    const now = this.#fx.now();
    const taken = await this.#core.store.transaction(NO_OWNERS, (tx) =>
      leaseRepo.tryAcquire(tx, ROTATION_LEASE, this.#holder, now.toISOString(), new Date(now.getTime() + this.#leaseMs).toISOString()),
    );
    if (!taken) return "other_server";
    try {
      this.#core.keys.keyring.refresh();
      const status = await keyStatus(this.#core, { ...this.#core.policy, now });
      if (!status.rotationJobs.some((j) => j.state === "running")) return "nothing_to_resume";
      await rotate();
      return "resumed";
    } finally {
      await this.#core.store.transaction(NO_OWNERS, (tx) => leaseRepo.release(tx, ROTATION_LEASE, this.#holder)).catch(() => undefined);
    }
  }

  /**
   * One check. `rotate` runs the rotation (the server passes one that updates its metrics);
   * it is called only while this server holds the lease.
   */
  async check(
    actor: Actor,
    ctx: RequestContext,
    rotate: (opts: { readonly auto: true; readonly batchSize: number }) => Promise<RotationReport | null>,
  ): Promise<AutoRotationOutcome> {
    await this.#gate.admin(actor, ctx, "admin.encryption.rotate");
    this.#core.keys.keyring.refresh();
    if (!(await this.#due())) return "not_due";
    if (this.#core.keys.keyring.mintRefusal() !== null) return "cannot_mint";
    const now = this.#fx.now();
    const taken = await this.#core.store.transaction(NO_OWNERS, (tx) =>
      leaseRepo.tryAcquire(tx, ROTATION_LEASE, this.#holder, now.toISOString(), new Date(now.getTime() + this.#leaseMs).toISOString()),
    );
    if (!taken) return "other_server";
    try {
      // Another server may have rotated just before this one took the lease.
      this.#core.keys.keyring.refresh();
      if (!(await this.#due())) return "not_due";
      const report = await rotate({ auto: true, batchSize: 500 });
      return report === null ? "failed" : "rotated";
    } catch (e) {
      return isCofferError(e) && e.code === "KEY_CANNOT_MINT" ? "cannot_mint" : "failed";
    } finally {
      await this.#core.store.transaction(NO_OWNERS, (tx) => leaseRepo.release(tx, ROTATION_LEASE, this.#holder)).catch(() => undefined);
    }
  }
}
