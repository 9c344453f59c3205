import { constantTimeEqual, hmacSha256, toHex, type AesKey } from "../../crypto/index.ts";
import { invalidInput } from "../../errors/index.ts";
import { auditRepo, integrityRepo, NO_OWNERS, type Store } from "../../store/index.ts";
import { chainBytes, GENESIS } from "./audit-chain.ts";
import {
  AUDIT_HEAD_MARK,
  BACKFILL_ACTION,
  markedFormat,
  markVerifies,
  STATE_MACS_MARK,
  UPGRADE_ACTION,
} from "../secrets/integrity-marks.ts";
import { STATE_FORMAT } from "../secrets/secret-state.ts";
import type { KeyManager } from "../scope-keys/key-manager.ts";
import { crossCheckSecrets, WriteTracker } from "../secrets/state-cross-check.ts";

export type AuditProblem = { readonly seq: number; readonly problem: string };
export type AuditVerification = {
  readonly ok: boolean;
  readonly events: number;
  readonly headSeq: number;
  /** First 8 bytes of the newest event's MAC, hex: record it elsewhere to detect a truncated tail later. */
  readonly headMac: string;
  readonly problems: readonly AuditProblem[];
};

/** A head recorded outside the database: an event's sequence number and (a prefix of at least 8 bytes of) its MAC. */
export type AuditAnchor = { readonly seq: number; readonly mac: Uint8Array };

const PAGE = 1000;
const ANCHOR = /^([1-9][0-9]{0,14}):((?:[0-9a-f]{2}){8,32})$/;

/**
 * Parses `--anchor <seq>:<mac>`: the MAC in hex, whole (as `audit list --json` prints it) or its
 * first 8+ bytes (as `audit verify` prints the head). @throws CofferError INVALID_INPUT.
 */
export function parseAnchor(text: string): AuditAnchor {
  const m = ANCHOR.exec(text.trim().toLowerCase());
  if (m === null || m[1] === undefined || m[2] === undefined)
    throw invalidInput("anchor", "must be <seq>:<mac>, the MAC in hex (16 to 64 hex digits), e.g. 42:9f3a…");
  return { seq: Number(m[1]), mac: Uint8Array.from(Buffer.from(m[2], "hex")) };
}

type Deps = { readonly store: Store; readonly keys: KeyManager; readonly macKey: (id: string) => Promise<AesKey | null> };
type Walk = {
  events: number;
  prev: { seq: number; mac: Uint8Array };
  readonly anchorSeq: number | null;
  anchorMac: Uint8Array | null;
  readonly backfills: number[];
  readonly upgrades: number[];
  readonly writes: WriteTracker;
};

/**
 * Walks the whole chain and names every event that was modified, deleted or reordered; then
 * checks what the chain alone cannot show: the high-water mark (newest events deleted), a
 * recorded anchor, a second state-MAC backfill (its marker was removed), and every secret's
 * state against the chain's write events (a rolled-back, undeleted or unlogged secret).
 */
export async function verifyAuditLog(deps: Deps, anchor: AuditAnchor | null): Promise<AuditVerification> {
  const problems: AuditProblem[] = [];
  const walk: Walk = {
    events: 0,
    prev: { seq: 0, mac: GENESIS },
    anchorSeq: anchor?.seq ?? null,
    anchorMac: null,
    backfills: [],
    upgrades: [],
    writes: new WriteTracker(),
  };
  for (;;) {
    const rows = await deps.store.read(NO_OWNERS, (db) =>
      auditRepo.listAuditEvents(db, { afterSeq: walk.prev.seq, limit: PAGE, ownerType: null, ownerId: null, action: null }),
    );
    for (const row of rows) await checkEvent(deps, walk, row, problems);
    if (rows.length < PAGE) break;
  }
  const { seq: headSeq, mac: headMac } = walk.prev;
  problems.push(...(await checkMarks(deps, walk, headSeq, headMac)));
  if (anchor !== null) problems.push(...checkAnchor(anchor, walk.anchorMac, headSeq));
  problems.push(...(await deps.store.read({ kind: "all", why: "audit verify" }, (db) => crossCheckSecrets(db, deps.keys, walk.writes))));
  return { ok: problems.length === 0, events: walk.events, headSeq, headMac: toHex(headMac.subarray(0, 8)), problems };
}

async function checkEvent(deps: Deps, walk: Walk, row: auditRepo.AuditRow, problems: AuditProblem[]): Promise<void> {
  walk.events++;
  const prev = walk.prev;
  if (row.seq !== prev.seq + 1)
    problems.push({ seq: row.seq, problem: `events ${String(prev.seq + 1)}..${String(row.seq - 1)} are missing (deleted)` });
  else if (!constantTimeEqual(row.prev_mac, prev.mac))
    problems.push({ seq: row.seq, problem: "does not follow the previous event (an event before it was deleted, replaced or reordered)" });
  const key = await deps.macKey(row.mac_key_id);
  if (key === null || !constantTimeEqual(hmacSha256(key, chainBytes(row)), row.mac))
    problems.push({ seq: row.seq, problem: "its MAC does not match its contents (modified or moved)" });
  if (row.action === BACKFILL_ACTION && row.outcome === "success") walk.backfills.push(row.seq);
  if (row.action === UPGRADE_ACTION && row.outcome === "success") walk.upgrades.push(row.seq);
  walk.writes.record(row);
  if (row.seq === walk.anchorSeq) walk.anchorMac = row.mac;
  walk.prev = { seq: row.seq, mac: row.mac };
}

async function checkMarks(deps: Deps, walk: Walk, headSeq: number, headMac: Uint8Array): Promise<AuditProblem[]> {
  const out: AuditProblem[] = [];
  const [head, stateMark] = await deps.store.read(NO_OWNERS, (db) =>
    Promise.all([integrityRepo.findMark(db, AUDIT_HEAD_MARK), integrityRepo.findMark(db, STATE_MACS_MARK)]),
  );
  if (head === null) {
    if (walk.events > 0 || stateMark !== null) out.push({ seq: headSeq, problem: "the audit head record is missing (deleted)" });
  } else {
    const key = await deps.macKey(head.key_id);
    if (key === null || !markVerifies(key, head))
      out.push({ seq: headSeq, problem: "the audit head record does not verify (modified outside Coffer)" });
    else if (head.seq > headSeq)
      out.push({
        seq: head.seq,
        problem: `events ${String(headSeq + 1)}..${String(head.seq)} are missing: the newest events were deleted (the head record is at ${String(head.seq)})`,
      });
    else if (head.seq < headSeq)
      out.push({
        seq: headSeq,
        problem: `the audit head record is behind the chain (at ${String(head.seq)}): restored from an older copy`,
      });
    else if (!constantTimeEqual(head.digest, headMac))
      out.push({ seq: headSeq, problem: "the newest event is not the one the head record names (replaced)" });
  }
  if (stateMark !== null) {
    const key = await deps.macKey(stateMark.key_id);
    if (key === null || !markVerifies(key, stateMark))
      out.push({ seq: 0, problem: "the state-MAC marker does not verify (modified outside Coffer)" });
    else if (markedFormat(stateMark) < STATE_FORMAT && walk.upgrades.length > 0)
      out.push({
        seq: walk.upgrades[0] ?? 0,
        problem: "the state-MAC marker is older than the format upgrade this event records (restored from an older copy)",
      });
  }
  for (const seq of walk.backfills.slice(1))
    out.push({
      seq,
      problem: "state MACs were backfilled again: the marker was removed outside Coffer, so rows may have been re-MAC'd after tampering",
    });
  for (const seq of walk.upgrades.slice(1))
    out.push({
      seq,
      problem: "state MACs were upgraded again: the marker was reverted outside Coffer, so old rows may have been re-MAC'd after tampering",
    });
  return out;
}

function checkAnchor(anchor: AuditAnchor, found: Uint8Array | null, headSeq: number): AuditProblem[] {
  const label = `anchor ${String(anchor.seq)}:${toHex(anchor.mac)}`;
  if (found === null)
    return [
      {
        seq: anchor.seq,
        problem:
          anchor.seq > headSeq
            ? `${label}: the chain ends at ${String(headSeq)}, before the recorded head (truncated or restored from an older copy)`
            : `${label}: no such event in the chain (deleted)`,
      },
    ];
  if (!constantTimeEqual(found.subarray(0, anchor.mac.byteLength), anchor.mac))
    return [{ seq: anchor.seq, problem: `${label}: the event at this sequence number is not the recorded one (the chain was rewritten)` }];
  return [];
}
