import { CofferError, isCofferError } from "../errors/index.ts";
import { constantTimeEqual, encodeFields, hmacSha256, systemEffects, toHex, type AesKey, type Effects } from "../crypto/index.ts";
import { ownerIdColumn, parseOwner, type Owner } from "../model/index.ts";
import { auditRepo, NO_OWNERS, type Executor, type Store } from "../store/index.ts";
import { deniedError, denial, holds, mayActOn } from "./access.ts";
import { actorLabel, type Actor, type RequestContext } from "./actor.ts";
import type { KeyManager } from "./key-manager.ts";

export const AUDIT_OUTCOMES = ["success", "denied", "conflict", "error"] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** One audited action. `details` holds ids and counts only, never a value. */
export type AuditInput = {
  readonly action: string;
  readonly owner: Owner | null;
  readonly key: string | null;
  readonly version: number | null;
  readonly outcome: AuditOutcome;
  readonly reason: string | null;
  readonly details?: Readonly<Record<string, string | number | boolean>>;
};

export type AuditEventView = {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly owner: string | null;
  readonly key: string | null;
  readonly version: number | null;
  readonly outcome: string;
  readonly reason: string | null;
  readonly requestId: string | null;
  readonly details: Readonly<Record<string, unknown>>;
};

export type AuditProblem = { readonly seq: number; readonly problem: string };
export type AuditVerification = {
  readonly ok: boolean;
  readonly events: number;
  readonly headSeq: number;
  /** First 8 bytes of the newest event's MAC, hex: record it elsewhere to detect a truncated tail later. */
  readonly headMac: string;
  readonly problems: readonly AuditProblem[];
};

const PURPOSE = "audit-mac";
const DENIED_READ = { owner: null, key: null, version: null, outcome: "denied", reason: null } as const;
const GENESIS = new Uint8Array(32);
const CHAIN_FORMAT = 1;
const PAGE = 1000;
const INSERT_BATCH = 500;

type ChainFields = Omit<auditRepo.AuditRow, "mac">;

/**
 * JSON with sorted keys and no whitespace. The MAC covers this form, not the stored text:
 * PostgreSQL's jsonb re-spaces and reorders keys, SQLite keeps text as written.
 */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Field by field, with a marker so `null` and `""` (or "null") never encode alike. */
function chainBytes(r: ChainFields): Uint8Array {
  const f = (v: string | number | null): string => (v === null ? "-" : `=${String(v)}`);
  const fields = encodeFields([
    CHAIN_FORMAT,
    r.seq,
    r.at,
    r.actor,
    r.action,
    f(r.owner_type),
    f(r.owner_id),
    f(r.key_name),
    f(r.version),
    r.outcome,
    f(r.reason),
    f(r.request_id),
    f(r.client_addr),
    canonicalJson(JSON.parse(r.details)),
    r.mac_key_id,
  ]);
  const out = new Uint8Array(fields.byteLength + r.prev_mac.byteLength);
  out.set(fields);
  out.set(r.prev_mac, fields.byteLength);
  return out;
}

/**
 * The append-only audit log, chained with a keyed MAC: each event's HMAC covers its fields and
 * the previous event's MAC, so changing, deleting or reordering an event breaks the chain. The
 * MAC key is an internal key wrapped by the KEK, never stored in the clear.
 */
type Entry = { readonly actor: Actor; readonly ctx: RequestContext; readonly e: AuditInput };
type Pending = Entry & { readonly resolve: () => void; readonly reject: (e: unknown) => void };

export class AuditLog {
  readonly #queue: Pending[] = [];
  #draining: Promise<void> | null = null;
  readonly #store: Store;
  readonly #keys: KeyManager;
  readonly #fx: Effects;

  constructor(store: Store, keys: KeyManager, fx: Effects = systemEffects) {
    this.#store = store;
    this.#keys = keys;
    this.#fx = fx;
  }

  /** Creates the MAC key on first boot. */
  async init(): Promise<void> {
    await this.#keys.ensureInternalKey(PURPOSE);
  }

  /**
   * Appends inside the caller's transaction, so the event commits with the change it records.
   * @throws CofferError AUDIT_FAILED when the event cannot be written; the caller's
   * transaction then rolls back and the action does not happen.
   */
  async append(tx: Executor, actor: Actor, ctx: RequestContext, e: AuditInput): Promise<void> {
    await this.appendAll(tx, actor, ctx, [e]);
  }

  /** Appends several events in order, with one read of the chain's head and batched inserts. */
  async appendAll(tx: Executor, actor: Actor, ctx: RequestContext, events: readonly AuditInput[]): Promise<void> {
    await this.#appendEntries(
      tx,
      events.map((e) => ({ actor, ctx, e })),
    );
  }

  async #appendEntries(tx: Executor, entries: readonly Entry[]): Promise<void> {
    try {
      const macKey = await this.#keys.internalKey(tx, PURPOSE);
      await auditRepo.lockAuditChain(tx);
      const head = await auditRepo.lastAuditEvent(tx);
      let prev = { seq: head?.seq ?? 0, mac: head?.mac ?? GENESIS };
      const at = this.#fx.now().toISOString();
      const rows: auditRepo.AuditRow[] = [];
      for (const { actor, ctx, e } of entries) {
        const row: ChainFields = {
          seq: prev.seq + 1,
          at,
          actor: actorLabel(actor),
          action: e.action,
          owner_type: e.owner?.kind ?? null,
          owner_id: e.owner === null ? null : ownerIdColumn(e.owner),
          key_name: e.key,
          version: e.version,
          outcome: e.outcome,
          reason: e.reason,
          request_id: ctx.requestId,
          client_addr: ctx.clientAddr,
          details: canonicalJson(e.details ?? {}),
          mac_key_id: macKey.id,
          prev_mac: prev.mac,
        };
        const mac = hmacSha256(macKey.key, chainBytes(row));
        rows.push({ ...row, mac });
        prev = { seq: row.seq, mac };
      }
      for (let i = 0; i < rows.length; i += INSERT_BATCH) await auditRepo.insertAuditEvents(tx, rows.slice(i, i + INSERT_BATCH));
    } catch (err) {
      if (isCofferError(err) && err.code === "AUDIT_FAILED") throw err;
      const action = entries[0]?.e.action ?? "unknown";
      throw new CofferError(
        "AUDIT_FAILED",
        `cannot write the audit event for ${action}; the action was not carried out`,
        { action },
        { cause: err },
      );
    }
  }

  /**
   * Appends in a transaction of its own (reveals, denials, failures whose change rolled back),
   * resolving once the event has committed. Group commit: events that arrive while a commit
   * is running are written together by the next one (one chain-head read, one transaction),
   * so concurrent reveals do not queue one transaction each. A failed commit fails every
   * event in it (fail closed: none of those reveals happens).
   */
  appendNow(actor: Actor, ctx: RequestContext, e: AuditInput): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ actor, ctx, e, resolve, reject });
      if (this.#draining === null) {
        this.#draining = this.#drain().finally(() => {
          this.#draining = null;
        });
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, INSERT_BATCH);
      try {
        await this.#store.transaction(NO_OWNERS, (tx) => this.#appendEntries(tx, batch));
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
  }

  async list(filter: {
    readonly owner: Owner | null;
    readonly action: string | null;
    readonly afterSeq: number;
    readonly limit: number;
  }): Promise<AuditEventView[]> {
    const rows = await this.#store.read(NO_OWNERS, (db) =>
      auditRepo.listAuditEvents(db, {
        afterSeq: filter.afterSeq,
        limit: filter.limit,
        ownerType: filter.owner?.kind ?? null,
        ownerId: filter.owner === null ? null : ownerIdColumn(filter.owner),
        action: filter.action,
      }),
    );
    return rows.map(toView);
  }

  /**
   * The audit log as an actor may read it: needs `audit:read`; a token that is not admin sees
   * only events about owners its patterns name (events about no owner need admin).
   * @throws CofferError SCOPE_DENIED (audited).
   */
  async listAs(
    actor: Actor,
    ctx: RequestContext,
    filter: Parameters<AuditLog["list"]>[0],
  ): Promise<{ readonly events: AuditEventView[]; readonly nextCursor: number | null }> {
    await this.#allowRead(actor, ctx, "audit.list");
    if (filter.owner !== null && !mayActOn(actor, filter.owner)) {
      await this.appendNow(actor, ctx, {
        ...DENIED_READ,
        action: "audit.list",
        owner: filter.owner,
        details: { rule: "owner not in the token's owner patterns" },
      });
      throw deniedError("audit:read", filter.owner, "owner not in the token's owner patterns");
    }
    const rows = await this.list(filter);
    const events = rows.filter((e) => (e.owner === null ? holds(actor, "admin") : mayActOn(actor, parseOwner(e.owner))));
    return { events, nextCursor: rows.length === filter.limit ? (rows.at(-1)?.seq ?? null) : null };
  }

  /** {@link verify} for an actor holding `audit:read`. @throws CofferError SCOPE_DENIED (audited). */
  async verifyAs(actor: Actor, ctx: RequestContext): Promise<AuditVerification> {
    await this.#allowRead(actor, ctx, "audit.verify");
    return this.verify();
  }

  async #allowRead(actor: Actor, ctx: RequestContext, action: string): Promise<void> {
    const why = denial(actor, "audit:read", null);
    if (why === null) return;
    await this.appendNow(actor, ctx, { ...DENIED_READ, action, details: { rule: why } });
    throw deniedError("audit:read", null, why);
  }

  /** Walks the whole chain and names every event that was modified, deleted or reordered. */
  async verify(): Promise<AuditVerification> {
    const problems: AuditProblem[] = [];
    let prev: { seq: number; mac: Uint8Array } = { seq: 0, mac: GENESIS };
    let events = 0;
    for (;;) {
      const rows = await this.#store.read(NO_OWNERS, (db) =>
        auditRepo.listAuditEvents(db, {
          afterSeq: prev.seq,
          limit: PAGE,
          ownerType: null,
          ownerId: null,
          action: null,
        }),
      );
      for (const row of rows) {
        events++;
        if (row.seq !== prev.seq + 1)
          problems.push({ seq: row.seq, problem: `events ${String(prev.seq + 1)}..${String(row.seq - 1)} are missing (deleted)` });
        else if (!constantTimeEqual(row.prev_mac, prev.mac))
          problems.push({
            seq: row.seq,
            problem: "does not follow the previous event (an event before it was deleted, replaced or reordered)",
          });
        const key = await this.#macKey(row.mac_key_id);
        if (key === null || !constantTimeEqual(hmacSha256(key, chainBytes(row)), row.mac)) {
          problems.push({ seq: row.seq, problem: "its MAC does not match its contents (modified or moved)" });
        }
        prev = { seq: row.seq, mac: row.mac };
      }
      if (rows.length < PAGE) break;
    }
    return { ok: problems.length === 0, events, headSeq: prev.seq, headMac: toHex(prev.mac.subarray(0, 8)), problems };
  }

  async #macKey(id: string): Promise<AesKey | null> {
    try {
      return await this.#store.read(NO_OWNERS, (db) => this.#keys.internalKeyById(db, id));
    } catch {
      return null;
    }
  }
}

function toView(r: auditRepo.AuditRow): AuditEventView {
  return {
    seq: r.seq,
    at: r.at,
    actor: r.actor,
    action: r.action,
    owner: r.owner_type === null ? null : r.owner_type === "system" ? "system" : `${r.owner_type}/${r.owner_id ?? ""}`,
    key: r.key_name,
    version: r.version,
    outcome: r.outcome,
    reason: r.reason,
    requestId: r.request_id,
    details: JSON.parse(r.details) as Record<string, unknown>,
  };
}
