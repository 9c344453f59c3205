import { systemEffects, type Effects } from "../../../crypto/index.ts";
import { CofferError, invalidInput, isCofferError } from "../../../errors/index.ts";
import { formatOwner, parseOwner, type Owner } from "../../../model/index.ts";
import { eraseRepo, keyRepo, type Executor, type Store } from "../../../store/index.ts";
import type { Actor, RequestContext } from "../../access/actor.ts";
import type { AuditInput, AuditLog } from "../../audit/audit-log.ts";
import type { KeyManager } from "../../scope-keys/key-manager.ts";
import { ownerScope } from "../../access/scopes.ts";
import { cols } from "../../secrets/secret-lookup.ts";
import { AccessGate } from "../../access/gate.ts";

export type EraseInput = {
  /** `user/<id>`, `project/<id>` or `system`. */
  readonly owner: string;
  /** The owner id typed again: must equal the owner exactly, so an erase is never a slip. */
  readonly confirm: string;
  /** How long database backups are kept (default: the configured retention), to say when the erase is complete in them. */
  readonly backupRetentionMs?: number | null;
};

/**
 * Until when copies of the erased scope key in database backups can still be decrypted: until
 * the backups older than the erase have aged out (`agedOutAt`, known only with a retention), or
 * every kid that wrapped it is retired (`kidRetiredAt`), whichever comes first.
 */
export type BackupExposure = {
  /** The retention this report assumed, e.g. `30d`; null when none was configured. */
  readonly backupRetention: string | null;
  readonly agedOutAt: string | null;
  readonly kidRetiredAt: string | null;
  /** The earlier of the two; null when neither is known (backups stay decryptable for now). */
  readonly unrecoverableEverywhereAt: string | null;
};

/** What was erased (counts and kids, never values) and from when it is unrecoverable where. */
export type EraseReport = {
  readonly owner: string;
  readonly erasedAt: string;
  readonly secrets: number;
  readonly versions: number;
  readonly scopeKeys: number;
  /** Every kid that wrapped (or, for a rewrapped scope key, may earlier have wrapped) the erased scope keys. */
  readonly kids: readonly string[];
  /**
   * The live database: unrecoverable from when the deleted rows' bytes were scrubbed from its
   * files (right after the commit); null when the scrub could not complete (see `scrub`).
   */
  readonly liveDatabase: string | null;
  /** What the scrub of the database files did, or what is left and why. */
  readonly scrub: { readonly complete: boolean; readonly detail: string };
  readonly backups: BackupExposure;
};

const RETENTION_RULE = "must be a whole number of minutes, hours or days, e.g. 90m, 12h, 30d";
const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const;
const RETENTION = /^([1-9][0-9]{0,4})([mhd])$/;

/**
 * Parses a backup retention such as `30d`, `12h` or `90m`: strictly, no spaces, no other units.
 * @throws CofferError INVALID_INPUT naming `field`.
 */
export function parseRetention(text: string, field: string): number {
  const m = RETENTION.exec(text);
  const unit = m?.[2] as keyof typeof UNIT_MS | undefined;
  if (m === null || unit === undefined) throw invalidInput(field, RETENTION_RULE);
  return Number(m[1]) * UNIT_MS[unit];
}

/** A retention in the largest unit that divides it: 2592000000 → `30d`. */
export function formatRetention(ms: number): string {
  for (const [unit, size] of Object.entries(UNIT_MS)) if (ms % size === 0) return `${String(ms / size)}${unit}`;
  return `${String(ms)}ms`;
}

type Erased = eraseRepo.ErasedCounts & { readonly kids: readonly string[]; readonly kidRetiredAt: string | null };

/**
 * Kids that may have wrapped the erased scope keys: the kid on each row and, for a rewrapped
 * one, every kid known before its rewrap (older backups hold it wrapped by one of those). The
 * copies in backups die when all of them are retired: the latest retirement, or null.
 */
function kidExposure(
  rows: readonly eraseRepo.ErasedScopeKeyRow[],
  keyring: readonly keyRepo.KeyringKeyRow[],
): { readonly kids: readonly string[]; readonly kidRetiredAt: string | null } {
  const kids = new Set<string>();
  for (const r of rows) {
    kids.add(r.kid);
    const rewrappedAt = r.rewrapped_at;
    if (rewrappedAt !== null) for (const k of keyring) if (k.created_at < rewrappedAt) kids.add(k.kid);
  }
  const retired = [...kids].map((kid) => keyring.find((k) => k.kid === kid)?.retired_at ?? null);
  const kidRetiredAt = kids.size === 0 || retired.includes(null) ? null : ([...retired].sort().at(-1) ?? null);
  return { kids: [...kids].sort(), kidRetiredAt };
}

function backupExposure(erasedAt: Date, retentionMs: number | null, kidRetiredAt: string | null): BackupExposure {
  const agedOutAt = retentionMs === null ? null : new Date(erasedAt.getTime() + retentionMs).toISOString();
  const known = [agedOutAt, kidRetiredAt].filter((t): t is string => t !== null).sort();
  return {
    backupRetention: retentionMs === null ? null : formatRetention(retentionMs),
    agedOutAt,
    kidRetiredAt,
    unrecoverableEverywhereAt: known[0] ?? null,
  };
}

/**
 * Crypto-erase of one owner (DESIGN §3 "Deletion semantics"): in ONE transaction under that
 * owner's scope, deletes its secret versions, secrets and every scope key (active and retired)
 * and appends an `owner.erase` audit event with the counts and kids; if the event cannot be
 * written, nothing is erased. Reads cannot reach the erased data afterwards even through a
 * scope key still cached in this process: every read starts from the (deleted) secret rows.
 * After the commit the store scrubs the deleted rows' bytes from the live database files
 * ({@link Store.scrubErased}); the report says whether that completed.
 */
export class CryptoErase {
  readonly #store: Store;
  readonly #keys: KeyManager;
  readonly #audit: AuditLog;
  readonly #retentionMs: number | null;
  readonly #fx: Effects;
  readonly #gate: AccessGate;

  constructor(
    core: { readonly store: Store; readonly audit: AuditLog; readonly keys: KeyManager },
    opts: { readonly backupRetentionMs: number | null; readonly fx?: Effects },
  ) {
    this.#store = core.store;
    this.#audit = core.audit;
    this.#keys = core.keys;
    this.#retentionMs = opts.backupRetentionMs;
    this.#fx = opts.fx ?? systemEffects;
    this.#gate = new AccessGate(core.audit);
  }

  /**
   * @throws CofferError INVALID_INPUT (owner), CONFIRMATION_REQUIRED when `confirm` is not the
   * owner, NOT_FOUND when the owner has nothing stored, AUDIT_FAILED (nothing erased).
   */
  async erase(actor: Actor, ctx: RequestContext, input: EraseInput): Promise<EraseReport> {
    const owner = parseOwner(input.owner);
    const base = { action: "owner.erase", owner, key: null, version: null, reason: null } as const;
    await this.#gate.admin(actor, ctx, base.action, base);
    if (input.confirm !== formatOwner(owner)) {
      await this.#audit.appendNow(actor, ctx, { ...base, outcome: "denied", details: { rule: "confirmation" } });
      throw new CofferError("CONFIRMATION_REQUIRED", `not erased: the confirmation does not match ${formatOwner(owner)}`, {
        owner: formatOwner(owner),
      });
    }
    let erased: Erased;
    try {
      erased = await this.#store.transaction(ownerScope(owner), (tx) =>
        this.#eraseRows(tx, owner, (e) => this.#audit.append(tx, actor, ctx, { ...base, ...e })),
      );
    } catch (e) {
      if (!isCofferError(e) || (e.code !== "AUDIT_FAILED" && e.code !== "NOT_FOUND")) {
        await this.#audit.appendNow(actor, ctx, { ...base, outcome: "error", details: { code: isCofferError(e) ? e.code : "INTERNAL" } });
      }
      throw e;
    }
    // The erased scope key leaves this process's cache (and memory) too.
    this.#keys.forgetOwner(owner);
    // Taken after the commit: backups started before this moment may still hold the rows.
    const erasedAt = this.#fx.now();
    // Deleted rows leave bytes in free pages, the WAL and dead tuples: remove them from the live files.
    const scrub = await this.#store.scrubErased();
    const { kidRetiredAt, ...counts } = erased;
    return {
      owner: formatOwner(owner),
      erasedAt: erasedAt.toISOString(),
      ...counts,
      liveDatabase: scrub.complete ? this.#fx.now().toISOString() : null,
      scrub: { complete: scrub.complete, detail: scrub.detail },
      backups: backupExposure(erasedAt, input.backupRetentionMs === undefined ? this.#retentionMs : input.backupRetentionMs, kidRetiredAt),
    };
  }

  async #eraseRows(tx: Executor, owner: Owner, audit: (e: Pick<AuditInput, "outcome" | "details">) => Promise<void>): Promise<Erased> {
    const where = cols(owner);
    const rows = await eraseRepo.listOwnerScopeKeys(tx, where);
    const counts = await eraseRepo.deleteOwnerRows(tx, where);
    if (counts.secrets + counts.versions + counts.scopeKeys === 0) {
      throw new CofferError("NOT_FOUND", `${formatOwner(owner)} has nothing stored`, { owner: formatOwner(owner) });
    }
    const exposure = kidExposure(rows, await keyRepo.listKeyringKeys(tx));
    await audit({ outcome: "success", details: { ...counts, kids: exposure.kids.join(",") } });
    return { ...counts, ...exposure };
  }
}
