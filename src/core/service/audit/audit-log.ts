import { CofferError, isCofferError } from "../../errors/index.ts";
import { hmacSha256, systemEffects, toHex, type AesKey, type Effects } from "../../crypto/index.ts";
import { ownerIdColumn, parseWith, type Owner, lazySchema } from "../../model/index.ts";
import { auditRepo, integrityRepo, NO_OWNERS, type Executor, type Store } from "../../store/index.ts";
import { holds, mayActOn, ownerColumnsMatch, visibleOwners } from "../access/access.ts";
import { AccessGate } from "../access/gate.ts";
import type { LimitHit } from "../access/guard.ts";
import { Cursor } from "../secrets/secret-inputs.ts";
import { actorLabel, type Actor, type AnonymousActor, type RequestContext } from "../access/actor.ts";
import { parseStoredJson } from "../secrets/stored-row.ts";
import type { KeyManager } from "../scope-keys/key-manager.ts";
import { canonicalJson } from "./canonical-json.ts";
import { chainBytes, GENESIS, type ChainFields } from "./audit-chain.ts";
import { AUDIT_HEAD_MARK, markMac } from "../secrets/integrity-marks.ts";
import { verifyAuditLog, type AuditAnchor, type AuditVerification } from "./audit-verify.ts";

const STORED_DETAILS = lazySchema((z) => z.record(z.string(), z.unknown()));

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
  /** The event's chain MAC (hex): record one outside the database and check it later with `audit verify --anchor seq:mac`. */
  readonly mac: string;
};

export type { AuditProblem, AuditVerification, AuditAnchor } from "./audit-verify.ts";

const PURPOSE = "audit-mac";
const DENIED_READ = { owner: null, key: null, version: null, outcome: "denied", reason: null } as const;
const INSERT_BATCH = 500;

/**
 * The append-only audit log, chained with a keyed MAC: each event's HMAC covers its fields and
 * the previous event's MAC, so changing, deleting or reordering an event breaks the chain. The
 * MAC key is an internal key wrapped by the KEK, never stored in the clear.
 */
type Entry = {
  readonly actor: Actor | AnonymousActor;
  readonly ctx: RequestContext;
  /** null: no event unless the hit is refused (a hit counted on its own). */
  readonly e: AuditInput | null;
  readonly limit?: CountedLimit | null;
};
type Pending = Entry & { readonly resolve: () => void; readonly reject: (e: unknown) => void };

/**
 * A rate-limit hit that commits with an event ({@link AuditLog.appendNow}): when the hit is over
 * its limit, `denied` is written instead of the event and the append fails with the refusal.
 */
export type CountedLimit = { readonly hit: LimitHit; readonly denied: AuditInput };

export class AuditLog {
  readonly #queue: Pending[] = [];
  /** A drain is scheduled or running; cleared in the same turn as its last look at the queue. */
  #draining = false;
  readonly #store: Store;
  readonly #keys: KeyManager;
  readonly #fx: Effects;
  readonly #gate: AccessGate = new AccessGate(this);

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

  /**
   * Writes the entries' events in order; entries with a limit hit have it counted first, after
   * the chain's lock (every transaction that counts a hit this way takes that lock first, so
   * two servers on one PostgreSQL never wait on each other's `rate_limits` rows in a cycle).
   * @returns per entry, the refusal of its hit (its `denied` event was written instead) or null.
   */
  async #appendEntries(tx: Executor, entries: readonly Entry[]): Promise<(Error | null)[]> {
    try {
      const macKey = await this.#keys.internalKey(tx, PURPOSE);
      await auditRepo.lockAuditChain(tx);
      const refusals = await countHits(tx, entries);
      // The high-water mark, not the table, says where the chain continues: deleting the newest
      // events never makes their sequence numbers free again (the next event leaves the gap).
      const mark = await integrityRepo.findMark(tx, AUDIT_HEAD_MARK);
      const head = mark === null ? await auditRepo.lastAuditEvent(tx) : { seq: mark.seq, mac: mark.digest };
      let prev = { seq: head?.seq ?? 0, mac: head?.mac ?? GENESIS };
      const at = this.#fx.now().toISOString();
      const rows: auditRepo.AuditRow[] = [];
      for (const [i, { actor, ctx, e: given, limit }] of entries.entries()) {
        const e = refusals[i] === null ? given : (limit?.denied ?? null);
        if (e === null) continue;
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
      if (rows.length === 0) return refusals;
      for (let i = 0; i < rows.length; i += INSERT_BATCH) await auditRepo.insertAuditEvents(tx, rows.slice(i, i + INSERT_BATCH));
      const newHead = { name: AUDIT_HEAD_MARK, seq: prev.seq, digest: prev.mac };
      await integrityRepo.putMark(tx, { ...newHead, key_id: macKey.id, mac: markMac(macKey.key, newHead), updated_at: at });
      return refusals;
    } catch (err) {
      if (isCofferError(err) && err.code === "AUDIT_FAILED") throw err;
      const first = entries[0];
      const action = first?.e?.action ?? first?.limit?.denied.action ?? "unknown";
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
   *
   * With `limit`, the request's rate-limit hit is counted in that same transaction: over the
   * limit, `limit.denied` is written instead of `e` and this rejects with the refusal
   * (RATE_LIMITED). `e` null: only the hit (and, refused, its denial) is written.
   */
  appendNow(actor: Actor | AnonymousActor, ctx: RequestContext, e: AuditInput | null, limit: CountedLimit | null = null): Promise<void> {
    if (e === null && limit === null) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ actor, ctx, e, limit, resolve, reject });
      if (!this.#draining) {
        this.#draining = true;
        setImmediate(() => void this.#drain());
      }
    });
  }

  /**
   * Writes the queued events, a batch per transaction. It starts after the turn of the event
   * loop in which the first of them was appended (`appendNow`'s `setImmediate`): every request whose data
   * arrived in this turn reaches its `appendNow` first (on SQLite a whole transaction runs in
   * one turn, so without the wait each event got a transaction of its own, measured: 11,863
   * transactions for 11,863 concurrent reveals). The wait is one `setImmediate`, not a timer.
   */
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, INSERT_BATCH);
        let refusals: (Error | null)[];
        try {
          refusals = await this.#store.transaction(NO_OWNERS, (tx) => this.#appendEntries(tx, batch));
        } catch (err) {
          for (const b of batch) b.reject(err);
          continue;
        }
        for (const [i, b] of batch.entries()) {
          const refused = refusals[i] ?? null;
          if (refused === null) b.resolve();
          else b.reject(refused);
        }
      }
    } finally {
      // In the same turn as the loop's last look at the queue: an event appended after it
      // starts a drain of its own. (Clearing the flag a few microtasks later, in a `finally()`
      // on the drain's promise, lost every event appended in between: its caller waited
      // forever. An event appended as soon as the previous one settled hit that every time.)
      this.#draining = false;
    }
  }

  /** Every event matching the filter (the local operator's view; {@link listAs} for an actor). */
  async list(filter: AuditListFilter): Promise<AuditEventView[]> {
    return (await this.#rows(filter, undefined)).map(toView);
  }

  async #rows(filter: AuditListFilter, visible: auditRepo.AuditFilter["visible"]): Promise<auditRepo.AuditRow[]> {
    return this.#store.read(NO_OWNERS, (db) =>
      auditRepo.listAuditEvents(db, {
        ...(visible === undefined ? {} : { visible }),
        afterSeq: parseWith(Cursor, filter.afterSeq, "cursor"),
        limit: filter.limit,
        ownerType: filter.owner?.kind ?? null,
        ownerId: filter.owner === null ? null : ownerIdColumn(filter.owner),
        action: filter.action,
        order: filter.order ?? "asc",
        beforeSeq: filter.beforeSeq === undefined || filter.beforeSeq === null ? null : parseWith(Cursor, filter.beforeSeq, "cursor"),
        actor: filter.actor ?? null,
        since: filter.since?.toISOString() ?? null,
        until: filter.until?.toISOString() ?? null,
      }),
    );
  }

  /**
   * The audit log as an actor may read it: needs `audit:read`. A token that is not admin sees
   * only events whose target owner its patterns name (a `*` token: every owner's); events about
   * no owner (tokens, keyring, verification, the audited "all" listings) need admin. The query
   * itself is limited to those events (so a page and its cursor say nothing of the others),
   * and every returned row is checked again.
   * @throws CofferError SCOPE_DENIED (audited).
   */
  async listAs(
    actor: Actor,
    ctx: RequestContext,
    filter: AuditListFilter,
  ): Promise<{ readonly events: AuditEventView[]; readonly nextCursor: number | null }> {
    await this.#allowRead(actor, ctx, "audit.list");
    if (filter.owner !== null && !mayActOn(actor, filter.owner)) {
      const why = "owner not in the token's owner patterns";
      await this.#gate.refuse(actor, ctx, "audit:read", filter.owner, why, { ...DENIED_READ, action: "audit.list", owner: filter.owner });
    }
    const visible = { owners: visibleOwners(actor), ownerless: holds(actor, "admin") };
    const rows = await this.#rows(filter, visible);
    const events = rows
      .filter((r) =>
        r.owner_type === null ? visible.ownerless : visible.owners === null || ownerColumnsMatch(visible.owners, r.owner_type, r.owner_id),
      )
      .map(toView);
    return { events, nextCursor: rows.length === filter.limit ? (rows.at(-1)?.seq ?? null) : null };
  }

  /** {@link verify} for an actor holding `audit:read`. @throws CofferError SCOPE_DENIED (audited). */
  async verifyAs(actor: Actor, ctx: RequestContext, anchor: AuditAnchor | null = null): Promise<AuditVerification> {
    await this.#allowRead(actor, ctx, "audit.verify");
    return this.verify(anchor);
  }

  #allowRead(actor: Actor, ctx: RequestContext, action: string): Promise<void> {
    return this.#gate.require(actor, ctx, "audit:read", null, { ...DENIED_READ, action });
  }

  /**
   * Walks the whole chain and names every event that was modified, deleted or reordered, the
   * newest events deleted (the head record), a recorded `anchor` no longer in the chain, and
   * every secret whose state disagrees with its MAC or with the chain's write events.
   */
  async verify(anchor: AuditAnchor | null = null): Promise<AuditVerification> {
    return verifyAuditLog({ store: this.#store, keys: this.#keys, macKey: (id) => this.#macKey(id) }, anchor);
  }

  async #macKey(id: string): Promise<AesKey | null> {
    try {
      return await this.#store.read(NO_OWNERS, (db) => this.#keys.internalKeyById(db, id));
    } catch {
      return null;
    }
  }
}

/**
 * Counts the entries' limit hits, one statement per bucket (its hits together), and gives each
 * hit the count it would have had counted alone, in entry order.
 * @returns per entry, the refusal of its hit, or null (no hit, or within the limit).
 */
async function countHits(tx: Executor, entries: readonly Entry[]): Promise<(Error | null)[]> {
  const refusals: (Error | null)[] = entries.map(() => null);
  const byBucket = new Map<string, number[]>();
  for (const [i, { limit }] of entries.entries()) {
    if (limit === undefined || limit === null) continue;
    const same = byBucket.get(limit.hit.bucket);
    if (same === undefined) byBucket.set(limit.hit.bucket, [i]);
    else same.push(i);
  }
  for (const indexes of byBucket.values()) {
    const hit = entries[indexes[0] ?? 0]?.limit?.hit;
    if (hit === undefined) continue;
    const after = await hit.count(tx, indexes.length);
    for (const [n, i] of indexes.entries()) {
      refusals[i] = hit.refusal(after.count - indexes.length + n + 1, after.windowStart);
    }
  }
  return refusals;
}

export type AuditListFilter = {
  readonly owner: Owner | null;
  readonly action: string | null;
  /** A position (a sequence number) only: never widens what the caller sees. */
  readonly afterSeq: number;
  readonly limit: number;
  /** "desc": newest first; the next page is then `beforeSeq` the last seq returned. Default "asc". */
  readonly order?: "asc" | "desc";
  /** A position too: only events with a smaller sequence number. */
  readonly beforeSeq?: number | null;
  /** Only events by this actor, exactly as recorded (`local:alice`, `token:<id>`…). */
  readonly actor?: string | null;
  /** Only events at or after `since` and before `until`. */
  readonly since?: Date | null;
  readonly until?: Date | null;
};

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
    details: parseStoredJson(r.details, STORED_DETAILS, { table: "audit_events", row: r.seq }, "details", "is not a JSON object"),
    mac: toHex(r.mac),
  };
}
