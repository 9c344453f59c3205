import { constantTimeEqual, encodeFields, hmacSha256, type AesKey } from "../../crypto/index.ts";
import { auditRepo, integrityRepo, secretRepo, type Executor, type Store } from "../../store/index.ts";
import type { Actor } from "../access/actor.ts";
import { LOCAL_CONTEXT } from "../access/actor.ts";
import type { AuditLog } from "../audit/audit-log.ts";
import type { KeyManager } from "../scope-keys/key-manager.ts";
import { STATE_MAC_PURPOSE, VALUE_HMAC_PURPOSE, type SecretStateMac } from "./secret-state.ts";

/** The audit chain's high-water mark: the newest sequence number ever written and that event's MAC. */
export const AUDIT_HEAD_MARK = "audit-head";
/** Present once every secret row carries a state MAC; from then on a NULL MAC is tampering. */
export const STATE_MACS_MARK = "state-macs";
/** The audit action of the one-time backfill; a second one means the marker was removed. */
export const BACKFILL_ACTION = "integrity.backfill";
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

/**
 * First open with the key after migration 0004 (or of a new database): MACs every secret row
 * that has none, records the `state-macs` marker (MAC'd), and audits it as `integrity.backfill`,
 * all in one transaction; later opens find the marker and do nothing. A migration cannot do
 * this (it has no key). The design against an attacker who NULLs a MAC and deletes the marker
 * to have a rolled-back row MAC'd again: reads refuse NULL unconditionally once this ran (it
 * runs before the core serves anything), and a second `integrity.backfill` event in the chain
 * fails `audit verify` (the chain itself cannot be rewritten without the audit key, and
 * truncating it is caught by the audit head mark).
 * @returns how many rows were MAC'd, or null when the marker was already there.
 */
export async function backfillStateMacs(deps: {
  readonly store: Store;
  readonly keys: KeyManager;
  readonly audit: AuditLog;
  readonly state: SecretStateMac;
  readonly now: () => Date;
}): Promise<number | null> {
  await deps.keys.ensureInternalKey(STATE_MAC_PURPOSE);
  await deps.keys.ensureInternalKey(VALUE_HMAC_PURPOSE);
  const { store } = deps;
  if ((await store.read({ kind: "all", why: "integrity backfill" }, (db) => integrityRepo.findMark(db, STATE_MACS_MARK))) !== null)
    return null;
  return store.transaction({ kind: "all", why: "integrity backfill" }, async (tx) => {
    await auditRepo.lockAuditChain(tx);
    if ((await integrityRepo.findMark(tx, STATE_MACS_MARK)) !== null) return null;
    const count = await macUnmarkedRows(tx, deps.state);
    const k = await deps.keys.internalKey(tx, STATE_MAC_PURPOSE);
    const mark = { name: STATE_MACS_MARK, seq: count, digest: new Uint8Array(0) };
    await integrityRepo.putMark(tx, { ...mark, key_id: k.id, mac: markMac(k.key, mark), updated_at: deps.now().toISOString() });
    await deps.audit.append(tx, SYSTEM_ACTOR, LOCAL_CONTEXT, {
      action: BACKFILL_ACTION,
      owner: null,
      key: null,
      version: null,
      outcome: "success",
      reason: null,
      details: { secrets: count },
    });
    return count;
  });
}

async function macUnmarkedRows(tx: Executor, state: SecretStateMac): Promise<number> {
  let count = 0;
  for (let afterId = 0; ;) {
    const rows = await secretRepo.listAllSecrets(tx, afterId, PAGE);
    for (const r of rows) {
      if (r.state_mac !== null) continue;
      await secretRepo.updateSecret(tx, r.id, { state_mac: await state.mac(tx, r) });
      count++;
    }
    const last = rows.at(-1);
    if (rows.length < PAGE || last === undefined) return count;
    afterId = last.id;
  }
}
