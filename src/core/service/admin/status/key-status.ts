import { keyRepo, statusRepo, type Store } from "../../../store/index.ts";
import type { KeyManager } from "../../scope-keys/key-manager.ts";
import type { Actor, RequestContext } from "../../access/actor.ts";
import type { AuditLog } from "../../audit/audit-log.ts";
import { AccessGate } from "../../access/gate.ts";

/** Random 96-bit nonces: NIST SP 800-38D caps one key at 2^32 encryptions. */
export const NONCE_BUDGET_PER_KEY = 2 ** 32;

export type KidStatus = {
  readonly kid: string;
  readonly provider: string;
  readonly fingerprint: string;
  /** Is this kid in the keyring configured now (can Coffer unwrap what it wrapped)? */
  readonly configured: boolean;
  readonly active: boolean;
  readonly createdAt: string;
  readonly activatedAt: string | null;
  readonly retiredAt: string | null;
  /** Keys this KEK has wrapped, and that count as a fraction of the random-nonce budget. */
  readonly wrapCount: number;
  readonly nonceBudgetUsed: number;
  /** The rotation policy's verdict for the active kid (wraps or age past the limit). */
  readonly rotationDue: boolean;
  readonly rotationDueReason: string | null;
  /**
   * For a non-active kid nothing depends on any more: when retiring (and deleting) it becomes
   * safe, i.e. when database backups taken before the rotation away from it have aged out.
   * Null while something depends on it, or when no backup retention is configured.
   */
  readonly safeToRetireAt: string | null;
  readonly scopeKeys: number;
  readonly owners: number;
  readonly secretVersions: number;
  readonly internalKeys: number;
};

export type KeyStatus = {
  readonly active: string;
  readonly keys: readonly KidStatus[];
  readonly totals: { readonly secrets: number; readonly liveSecrets: number; readonly versions: number };
  /** Values still in a legacy format: none, since legacy imports are re-encrypted on the way in. */
  readonly legacyRows: number;
  readonly rotationJobs: readonly {
    readonly id: string;
    readonly fromKid: string | null;
    readonly toKid: string;
    readonly state: string;
    readonly total: number;
    readonly done: number;
    readonly startedAt: string;
    readonly finishedAt: string | null;
  }[];
};

/**
 * The encryption status: the active kid; every kid with provider, fingerprint (never key
 * bytes), times, wrap count and what depends on it. Reads across every owner: the explicit
 * administrative scope.
 */
export type StatusPolicy = {
  readonly maxWraps: number;
  readonly maxAgeMs: number;
  readonly backupRetentionMs: number | null;
  readonly now: Date;
};

const DEFAULT_POLICY: Omit<StatusPolicy, "now"> = { maxWraps: 2 ** 24, maxAgeMs: 365 * 86_400_000, backupRetentionMs: null };

function dueReason(wraps: number, activatedAt: string | null, p: StatusPolicy): string | null {
  if (wraps >= p.maxWraps) return `${String(wraps)} wraps reached the limit of ${String(p.maxWraps)}`;
  if (activatedAt !== null && p.now.getTime() - Date.parse(activatedAt) >= p.maxAgeMs)
    return `active since ${activatedAt}, past the rotation age`;
  return null;
}

export async function keyStatus(
  core: { readonly store: Store; readonly keys: KeyManager },
  policy: StatusPolicy = { ...DEFAULT_POLICY, now: new Date() },
): Promise<KeyStatus> {
  const scope = { kind: "all", why: "encryption status" } as const;
  const { rows, usage, totals, jobs } = await core.store.read(scope, async (db) => ({
    rows: await keyRepo.listKeyringKeys(db),
    usage: await statusRepo.usageByKid(db),
    totals: await statusRepo.secretTotals(db),
    jobs: await statusRepo.listRotationJobs(db, 20),
  }));
  const configured = new Map<string, { readonly provider: string }>(core.keys.keyring.describe().map((p) => [p.kid, p]));
  const active = core.keys.keyring.active.kid;
  const keys = rows.map((r): KidStatus => {
    const u = usage.find((x) => x.kid === r.kid);
    const wrapCount = r.wrap_count;
    const isActive = r.kid === active;
    const reason = isActive ? dueReason(wrapCount, r.activated_at, policy) : null;
    const depends = (u?.scopeKeys ?? 0) + (u?.internalKeys ?? 0) > 0;
    const movedAway = jobs.find((j) => j.state === "done" && j.to_kid !== r.kid)?.finished_at ?? null;
    const safeToRetireAt =
      isActive || depends || r.retired_at !== null || policy.backupRetentionMs === null
        ? null
        : new Date(Date.parse(movedAway ?? r.created_at) + policy.backupRetentionMs).toISOString();
    return {
      kid: r.kid,
      provider: configured.get(r.kid)?.provider ?? r.provider,
      fingerprint: r.fingerprint,
      configured: configured.has(r.kid),
      active: isActive,
      rotationDue: reason !== null,
      rotationDueReason: reason,
      safeToRetireAt,
      createdAt: r.created_at,
      activatedAt: r.activated_at,
      retiredAt: r.retired_at,
      wrapCount,
      nonceBudgetUsed: wrapCount / NONCE_BUDGET_PER_KEY,
      scopeKeys: u?.scopeKeys ?? 0,
      owners: u?.owners ?? 0,
      secretVersions: u?.versions ?? 0,
      internalKeys: u?.internalKeys ?? 0,
    };
  });
  return {
    active,
    keys,
    totals,
    legacyRows: 0,
    rotationJobs: jobs.map((j) => ({
      id: j.id,
      fromKid: j.from_kid,
      toKid: j.to_kid,
      state: j.state,
      total: j.total,
      done: j.done,
      startedAt: j.started_at,
      finishedAt: j.finished_at,
    })),
  };
}

/** `core.admin.status`: {@link keyStatus} under the configured rotation policy, for an `admin` actor (refusals audited). */
export class KeyStatusService {
  readonly #deps: { readonly store: Store; readonly keys: KeyManager };
  readonly #policy: Omit<StatusPolicy, "now">;
  readonly #gate: AccessGate;

  constructor(deps: { readonly store: Store; readonly keys: KeyManager; readonly audit: AuditLog }, policy: Omit<StatusPolicy, "now">) {
    this.#deps = deps;
    this.#policy = policy;
    this.#gate = new AccessGate(deps.audit);
  }

  /** @throws CofferError SCOPE_DENIED (audited as `admin.encryption.status`). */
  async get(actor: Actor, ctx: RequestContext, input: { readonly now?: Date } = {}): Promise<KeyStatus> {
    await this.#gate.admin(actor, ctx, "admin.encryption.status");
    return keyStatus(this.#deps, { ...this.#policy, now: input.now ?? new Date() });
  }
}
