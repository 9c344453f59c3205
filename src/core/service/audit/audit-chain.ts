import { encodeFields } from "../../crypto/index.ts";
import type { auditRepo } from "../../store/index.ts";
import { canonicalJson } from "./canonical-json.ts";

/** The MAC the first event chains to. */
export const GENESIS = new Uint8Array(32);
const CHAIN_FORMAT = 1;

export type ChainFields = Omit<auditRepo.AuditRow, "mac">;

/**
 * The details as the MAC covers them: canonical JSON. Text that is not JSON (changed outside
 * Coffer) is used as it is: it cannot equal any canonical JSON, so verify reports that event's
 * MAC as not matching instead of failing the whole walk.
 */
function detailsForMac(text: string): string {
  try {
    return canonicalJson(JSON.parse(text));
  } catch {
    return text;
  }
}

/** Field by field, with a marker so `null` and `""` (or "null") never encode alike. */
export function chainBytes(r: ChainFields): Uint8Array {
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
    detailsForMac(r.details),
    r.mac_key_id,
  ]);
  const out = new Uint8Array(fields.byteLength + r.prev_mac.byteLength);
  out.set(fields);
  out.set(r.prev_mac, fields.byteLength);
  return out;
}
