import { constantTimeEqual, encodeFields, hmacSha256, type AesKey } from "../../crypto/index.ts";
import { CofferError } from "../../errors/index.ts";
import { auditRepo, integrityRepo, secretRepo, type Executor, type Store } from "../../store/index.ts";
import type { Actor } from "../access/actor.ts";
import { LOCAL_CONTEXT } from "../access/actor.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { KeyManager } from "../scope-keys/key-manager.ts";
import {
  isCurrentFormat,
  STATE_FORMAT,
  STATE_MAC_2_PURPOSE,
  STATE_MAC_PURPOSE,
  VALUE_HMAC_PURPOSE,
  verifiesAsFormat1,
  type SecretStateMac,
} from "./secret-state.ts";

/** The audit chain's high-water mark: the newest sequence number ever written and that event's MAC. */
export const AUDIT_HEAD_MARK = "audit-head";
/**
 * Present once every secret row carries a state MAC; from then on a NULL MAC is tampering. Its
 * digest is the state MAC format every row was brought to (one byte; none for format 1).
 */
export const STATE_MACS_MARK = "state-macs";
/** The audit action of the one-time backfill; a second one means the marker was removed. */
export const BACKFILL_ACTION = "integrity.backfill";
/** The audit action of the one-time upgrade of every state MAC to the current format; a second one means the marker was reverted. */
export const UPGRADE_ACTION = "integrity.upgrade";
const SYSTEM_ACTOR: Actor = { kind: "local", user: "system" };
const PAGE = 1000;

/** The MAC of an integrity mark: its name, number and digest, under the key that owns it. */
export function markMac(key: AesKey, m: { readonly name: string; readonly seq: number; readonly digest: Uint8Array }): Uint8Array {
  const head = encodeFields(["coffer/integrity-mark", m.name, m.seq]);
  const all = new Uint8Array(head.byteLength + m.digest.byteLength);
  all.set(head);
  all.set(m.digest, head.byteLength);
  return hmacSha256(key, all);
}

export function markVerifies(key: AesKey, m: integrityRepo.MarkRow): boolean {
  return constantTimeEqual(markMac(key, m), m.mac);
}

/** The format the marker records (its digest's one byte); 1 for a marker written before format 2. */
export function markedFormat(mark: integrityRepo.MarkRow): number {
  return mark.digest.byteLength === 1 ? (mark.digest[0] ?? 1) : 1;
}

type PrepareDeps = {
  readonly store: Store;
  readonly keys: KeyManager;
  readonly audit: AuditLog;
  readonly state: SecretStateMac;
  readonly now: () => Date;
};

/** What the first open with the key did to the rows' state MACs (null: nothing to do). */
export type StateMacsPrepared = {
  readonly action: typeof BACKFILL_ACTION | typeof UPGRADE_ACTION;
  /** Rows MAC'd for the first time (a NULL MAC before the marker existed). */
  readonly macd: number;
  /** Rows whose format-1 MAC verified and was replaced by a current one. */
  readonly upgraded: number;
  /** Rows left as they were because their MAC did not verify: reads refuse them (STATE_TAMPERED). */
  readonly refused: number;
};

/**
 * Brings every secret row to a state MAC of the current format, once, at the first open with
 * the key (it runs before the core serves anything, in one transaction under the audit lock).
 *
 * - **Backfill** (no marker: a new database, or rows written before migration 0004): a NULL MAC
 *   is computed now. Later opens find the marker, and from then on a NULL MAC is tampering.
 * - **Upgrade** (a marker of format 1): each format-1 MAC (HMAC-SHA-256) is verified under the
 *   old `state-mac` key and replaced by a format-2 MAC (BLAKE3 keyed-hash under `state-mac-2`).
 *   A row that does not verify is left as it is, so reads keep refusing it: tampering is never
 *   laundered into a valid MAC.
 *
 * Either way the marker is rewritten (MAC'd, naming the format) and audited as
 * `integrity.backfill` or `integrity.upgrade`. The design against an attacker who NULLs a MAC,
 * or plants an old row with its format-1 MAC, and removes or reverts the marker to have it
 * MAC'd anew: that writes a second backfill or upgrade event, which fails `audit verify` (the
 * chain cannot be rewritten without the audit key, and truncating it is caught by the head mark).
 * @returns what was done, or null when the marker already names the current format.
 */
export async function prepareStateMacs(deps: PrepareDeps): Promise<StateMacsPrepared | null> {
  await deps.keys.ensureInternalKey(STATE_MAC_2_PURPOSE);
  await deps.keys.ensureInternalKey(VALUE_HMAC_PURPOSE);
  const { store } = deps;
  const current = (mark: integrityRepo.MarkRow | null): boolean => mark !== null && markedFormat(mark) === STATE_FORMAT;
  if (current(await store.read({ kind: "all", why: "integrity backfill" }, (db) => integrityRepo.findMark(db, STATE_MACS_MARK))))
    return null;
  return store.transaction({ kind: "all", why: "integrity backfill" }, async (tx) => {
    await auditRepo.lockAuditChain(tx);
    const mark = await integrityRepo.findMark(tx, STATE_MACS_MARK);
    if (current(mark)) return null;
    // The upgrade happens once. A marker of format 1 after it means the marker (and maybe old rows
    // with their format-1 MACs) was restored from an older copy: converting again would launder
    // those rows, so refuse to start (fail closed) and say what to check.
    if (
      mark !== null &&
      (await auditRepo.listAuditEvents(tx, { afterSeq: 0, limit: 1, ownerType: null, ownerId: null, action: UPGRADE_ACTION })).length > 0
    )
      throw new CofferError(
        "STATE_TAMPERED",
        "the state-MAC marker is older than the format upgrade this database already went through (restored from an older copy outside Coffer); refusing to convert rows again: run coffer audit verify and restore the database from a backup",
        { marker: STATE_MACS_MARK },
      );
    const counts = await bringRowsToCurrentFormat(tx, deps, mark === null);
    const k = await deps.keys.internalKey(tx, STATE_MAC_2_PURPOSE);
    const next = { name: STATE_MACS_MARK, seq: counts.macd + counts.upgraded, digest: Uint8Array.of(STATE_FORMAT) };
    await integrityRepo.putMark(tx, { ...next, key_id: k.id, mac: markMac(k.key, next), updated_at: deps.now().toISOString() });
    const action = mark === null ? BACKFILL_ACTION : UPGRADE_ACTION;
    const details =
      action === BACKFILL_ACTION
        ? { secrets: counts.macd + counts.upgraded, ...(counts.refused > 0 ? { refused: counts.refused } : {}) }
        : { secrets: counts.upgraded, refused: counts.refused, format: STATE_FORMAT };
    await deps.audit.append(tx, SYSTEM_ACTOR, LOCAL_CONTEXT, {
      action,
      owner: null,
      key: null,
      version: null,
      outcome: "success",
      reason: null,
      details,
    });
    return { action, ...counts };
  });
}

async function bringRowsToCurrentFormat(
  tx: Executor,
  deps: PrepareDeps,
  backfill: boolean,
): Promise<{ macd: number; upgraded: number; refused: number }> {
  const counts = { macd: 0, upgraded: 0, refused: 0 };
  // Looked up only when a format-1 MAC is met: a database created with format 2 has no such key.
  let legacy: Promise<AesKey | null> | undefined;
  for (let afterId = 0; ;) {
    const rows = await secretRepo.listAllSecrets(tx, afterId, PAGE);
    for (const r of rows) {
      if (r.state_mac === null) {
        if (!backfill) {
          counts.refused++;
          continue;
        }
        await secretRepo.updateSecret(tx, r.id, { state_mac: await deps.state.mac(tx, r) });
        counts.macd++;
      } else if (!isCurrentFormat(r.state_mac)) {
        const key = await (legacy ??= formatOneKey(tx, deps.keys));
        if (key === null || !verifiesAsFormat1(key, r, r.state_mac)) {
          counts.refused++;
          continue;
        }
        await secretRepo.updateSecret(tx, r.id, { state_mac: await deps.state.mac(tx, r) });
        counts.upgraded++;
      }
    }
    const last = rows.at(-1);
    if (rows.length < PAGE || last === undefined) return counts;
    afterId = last.id;
  }
}

/** The format-1 key, or null when this database never had one (then no format-1 MAC can verify). */
async function formatOneKey(tx: Executor, keys: KeyManager): Promise<AesKey | null> {
  try {
    return (await keys.internalKey(tx, STATE_MAC_PURPOSE)).key;
  } catch (e) {
    if (e instanceof CofferError && e.code === "KEY_NOT_FOUND") return null;
    throw e;
  }
}
