import { isCofferError } from "../../errors/index.ts";
import { auditRepo, secretRepo, type Executor } from "../../store/index.ts";
import type { KeyManager } from "../scope-keys/key-manager.ts";
import { secretLabel, SecretStateMac } from "./secret-state.ts";

/** The audit actions that change which version is current, or whether a secret is deleted. */
const WRITE_ACTIONS = new Set(["secret.set", "secret.import", "secret.unset"]);
const ERASE_ACTION = "owner.erase";
const PAGE = 1000;

type Write = { readonly seq: number; readonly action: string; readonly version: number; readonly label: string };
type Problem = { readonly seq: number; readonly problem: string };

const secretId = (ownerType: string, ownerId: string, key: string): string => `${ownerType}\u0000${ownerId}\u0000${key}`;
const ownerId = (ownerType: string, id: string): string => `${ownerType}\u0000${id}`;

/** The newest successful write event of each secret, and the newest erase of each owner, as the chain is walked. */
export class WriteTracker {
  readonly writes = new Map<string, Write>();
  readonly erases = new Map<string, number>();

  record(row: auditRepo.AuditRow): void {
    if (row.outcome !== "success" || row.owner_type === null || row.owner_id === null) return;
    if (row.action === ERASE_ACTION) {
      this.erases.set(ownerId(row.owner_type, row.owner_id), row.seq);
      return;
    }
    if (!WRITE_ACTIONS.has(row.action) || row.key_name === null || row.version === null) return;
    const label = secretLabel({ owner_type: row.owner_type, owner_id: row.owner_id, key_name: row.key_name });
    this.writes.set(secretId(row.owner_type, row.owner_id, row.key_name), {
      seq: row.seq,
      action: row.action,
      version: row.version,
      label,
    });
  }
}

/**
 * Every secret's state against the chain: its state MAC verifies, its current version row
 * exists, and the newest write event of the chain says the same version and deleted-or-not.
 * A secret the chain never wrote (a wiped or truncated log), or a written secret whose row is
 * gone without an erase, is a problem too. Reads rows only; decrypts nothing.
 */
export async function crossCheckSecrets(db: Executor, keys: KeyManager, tracker: WriteTracker): Promise<Problem[]> {
  const state = new SecretStateMac(keys);
  const out: Problem[] = [];
  const seen = new Set<string>();
  for (let afterId = 0; ;) {
    const rows = await secretRepo.listAllSecrets(db, afterId, PAGE);
    for (const row of rows) {
      const id = secretId(row.owner_type, row.owner_id, row.key_name);
      seen.add(id);
      out.push(...(await checkRow(db, state, row, tracker)));
    }
    const last = rows.at(-1);
    if (rows.length < PAGE || last === undefined) break;
    afterId = last.id;
  }
  for (const [id, w] of tracker.writes) {
    if (seen.has(id)) continue;
    const owner = id.split("\u0000").slice(0, 2).join("\u0000");
    if ((tracker.erases.get(owner) ?? 0) > w.seq) continue;
    out.push({
      seq: w.seq,
      problem: `${w.label}: the log says it was written (v${String(w.version)}) but its row is gone (deleted outside Coffer)`,
    });
  }
  return out;
}

async function checkRow(db: Executor, state: SecretStateMac, row: secretRepo.SecretRow, tracker: WriteTracker): Promise<Problem[]> {
  const label = secretLabel(row);
  const w = tracker.writes.get(secretId(row.owner_type, row.owner_id, row.key_name));
  const erasedAt = tracker.erases.get(ownerId(row.owner_type, row.owner_id)) ?? 0;
  const out: Problem[] = [];
  try {
    await state.checkCurrent(db, row, await secretRepo.findVersion(db, row.id, row.current_version));
  } catch (e) {
    if (!isCofferError(e)) throw e;
    out.push({ seq: w?.seq ?? 0, problem: `${label}: ${e.message}` });
  }
  if (w === undefined || w.seq < erasedAt) {
    out.push({ seq: 0, problem: `${label}: the secret exists but no event in the log wrote it (events are missing)` });
    return out;
  }
  const deleted = row.deleted_at !== null;
  if (row.current_version !== w.version)
    out.push({
      seq: w.seq,
      problem: `${label}: the row is at v${String(row.current_version)} but the newest write event says v${String(w.version)} (rolled back)`,
    });
  if (deleted !== (w.action === "secret.unset"))
    out.push({
      seq: w.seq,
      problem: deleted
        ? `${label}: the row is deleted but the newest write event (${w.action}) left it live`
        : `${label}: the row is live but the newest write event deleted it (undeleted)`,
    });
  return out;
}
