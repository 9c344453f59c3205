import {
  constantTimeEqual,
  hmacSha256,
  hmacSha256Fields,
  keyedBlake3For,
  keyedBlake3If,
  type AesKey,
  type KeyedBlake3,
} from "../../crypto/index.ts";
import { CofferError } from "../../errors/index.ts";
import { formatOwner, ownerFromColumns } from "../../model/index.ts";
import type { Secret } from "../../secret/index.ts";
import { secretRepo, type Executor } from "../../store/index.ts";
import { canonicalJson } from "../audit/canonical-json.ts";
import type { KeyManager } from "../scope-keys/key-manager.ts";

/**
 * The internal key of state MAC format 1 (HMAC-SHA-256): the first open with format 2 verifies
 * and converts every format-1 MAC (integrity-marks.ts); a read still accepts a format-1 MAC that
 * verifies, which only an older Coffer running beside this one during an upgrade writes.
 */
export const STATE_MAC_PURPOSE = "state-mac";
/** The internal key that MACs each secret's state (identity, current version, deleted marker, metadata, times). */
export const STATE_MAC_2_PURPOSE = "state-mac-2";
/** The internal key that computes each version's plaintext HMAC (`coffer secrets check`). */
export const VALUE_HMAC_PURPOSE = "value-hmac";
/**
 * The state MAC format, stored as the MAC's first byte: 2 is BLAKE3 keyed-hash (33 bytes in
 * all). Format 1 (December 2026) was HMAC-SHA-256 (32 bytes, no format byte); its per-call cost
 * in `node:crypto` alone was 12-16% of a masked get (docs/benchmarks.md).
 */
export const STATE_FORMAT = 2;
const LEGACY_FORMAT = 1;
const VALUE_FORMAT = "coffer/value-hmac/v1";
/** What {@link SecretStateMac.check} returns when it verified synchronously. */
const CHECKED: Promise<void> = Promise.resolve();

/** The columns a state MAC covers: every column of the row but its id and the MAC itself. */
export type SecretState = Omit<secretRepo.SecretRow, "id" | "state_mac">;
/** What a write may change. */
export type StatePatch = Partial<Pick<SecretState, "current_version" | "meta" | "updated_at" | "last_rotated_at" | "deleted_at">>;

/**
 * The metadata as the MAC covers it: canonical JSON (PostgreSQL's jsonb reorders keys). Text that
 * is not JSON (changed outside Coffer) is covered as it is: it cannot equal any canonical JSON,
 * so the row fails its check as STATE_TAMPERED instead of throwing a parse error.
 */
function metaForMac(text: string): string {
  if (text === "{}") return text; // most secrets have no metadata: no parse
  try {
    return canonicalJson(JSON.parse(text));
  } catch {
    return `\u0000${text}`;
  }
}

const optional = (v: string | null): string => (v === null ? "-" : `=${v}`);

/** The fields the MAC covers, in order, each length-prefixed by `encodeFields` (never change the bytes of a format). */
function stateFields(r: SecretState, format: number): (string | number)[] {
  return [
    "coffer/secret-state",
    format,
    r.owner_type,
    r.owner_id,
    r.key_name,
    r.current_version,
    metaForMac(r.meta),
    r.created_at,
    r.updated_at,
    optional(r.last_rotated_at),
    optional(r.deleted_at),
  ];
}

/** The state MAC of a row (format 2): the format byte, then BLAKE3 keyed-hash of its encoded state fields. */
function stateMac(h: KeyedBlake3, r: SecretState): Uint8Array {
  const tag = h.macFields(stateFields(r, STATE_FORMAT));
  const out = new Uint8Array(1 + tag.byteLength);
  out[0] = STATE_FORMAT;
  out.set(tag, 1);
  return out;
}

/** Refuses `row` unless its stored MAC is the current format's MAC of its state under `h`. */
function checkWith(h: KeyedBlake3, row: secretRepo.SecretRow): void {
  if (row.state_mac === null) throw stateTampered(row, "its state MAC was removed");
  if (!constantTimeEqual(stateMac(h, row), row.state_mac)) throw stateTampered(row, "rolled back, undeleted, edited or moved");
}

/** Whether a stored MAC is in the current format (its first byte; a format-1 MAC has none). */
export function isCurrentFormat(mac: Uint8Array): boolean {
  return mac.byteLength === 33 && mac[0] === STATE_FORMAT;
}

/** A row's format-1 MAC: HMAC-SHA-256 under the `state-mac` key (what Coffer wrote before format 2). */
export function format1Mac(key: AesKey, r: SecretState): Uint8Array {
  return hmacSha256Fields(key, stateFields(r, LEGACY_FORMAT));
}

/** Whether `mac` is the row's format-1 MAC: the upgrade's check. */
export function verifiesAsFormat1(key: AesKey, r: SecretState, mac: Uint8Array): boolean {
  return constantTimeEqual(format1Mac(key, r), mac);
}

/** Names the secret of a row: `project/acme DB_URL`. */
export function secretLabel(r: Pick<SecretState, "owner_type" | "owner_id" | "key_name">): string {
  let owner: string;
  try {
    owner = formatOwner(ownerFromColumns(r.owner_type, r.owner_id));
  } catch {
    owner = `${r.owner_type}/${r.owner_id}`;
  }
  return `${owner} ${r.key_name}`;
}

export function stateTampered(r: SecretState, why: string): CofferError {
  return new CofferError(
    "STATE_TAMPERED",
    `the stored state of ${secretLabel(r)} does not verify (${why}): it was changed outside Coffer; refusing to use it (see coffer audit verify)`,
    { owner: `${r.owner_type}/${r.owner_id}`, key: r.key_name },
  );
}

/**
 * Authenticates each secret's mutable state with HMAC-SHA-256 under an internal key wrapped by
 * the KEK (DESIGN §3 "Integrity of mutable state"). Ciphertext AAD binds a value to its place;
 * this binds which version is current, whether the secret is deleted, and its metadata, so a
 * writer of the database file (without the key) cannot roll a secret back, undelete it, edit
 * its metadata, or copy another row's MAC. Every write of a secret row goes through
 * {@link write}; every read that serves a secret calls {@link check}.
 */
export class SecretStateMac {
  readonly #keys: KeyManager;
  /** The state MAC key and its keyed BLAKE3 while the key cache holds the key (until `expiresAt`). */
  #lease: { readonly id: string; readonly h: KeyedBlake3; readonly expiresAt: number } | null = null;

  constructor(keys: KeyManager) {
    this.#keys = keys;
  }

  /** The current key's id and its keyed BLAKE3 (made once per key object). */
  async #key(db: Executor): Promise<{ readonly id: string; readonly h: KeyedBlake3 }> {
    const k = await this.#keys.internalKey(db, STATE_MAC_2_PURPOSE);
    return { id: k.id, h: await keyedBlake3For(k.key) };
  }

  async mac(db: Executor, r: SecretState): Promise<Uint8Array> {
    return stateMac((await this.#key(db)).h, r);
  }

  /** Applies `patch` to the row with its new state MAC, in the caller's transaction. @returns the row as it now is. */
  async write(tx: Executor, row: secretRepo.SecretRow, patch: StatePatch): Promise<secretRepo.SecretRow> {
    const next = { ...row, ...patch };
    const state_mac = await this.mac(tx, next);
    await secretRepo.updateSecret(tx, row.id, { ...patch, state_mac });
    return { ...next, state_mac };
  }

  /**
   * Refuses a row whose state does not verify (a NULL MAC included: every row was MAC'd at the
   * first open with the key). Every call computes the MAC: no verification is remembered, so
   * nothing a read trusts was not checked by that read. Synchronous work once the key is loaded
   * (one settled promise is returned), since every read of a secret runs it.
   * @throws CofferError STATE_TAMPERED naming the secret (as a rejected promise).
   */
  check(db: Executor, row: secretRepo.SecretRow): Promise<void> {
    const h = this.#leased();
    if (h === null || (row.state_mac !== null && !isCurrentFormat(row.state_mac))) return this.#loadAndCheck(db, row);
    try {
      checkWith(h, row);
      return CHECKED;
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** The keyed BLAKE3 of the current key while the key cache holds it, without a query; else null. */
  #leased(): KeyedBlake3 | null {
    const lease = this.#lease;
    if (lease !== null && Date.now() < lease.expiresAt) return lease.h;
    const k = this.#keys.peekInternalKey(STATE_MAC_2_PURPOSE);
    const h = k === null ? undefined : keyedBlake3If(k.key);
    if (k === null || h === undefined) return null;
    this.#lease = { id: k.id, h, expiresAt: k.expiresAt };
    return h;
  }

  async #loadAndCheck(db: Executor, row: secretRepo.SecretRow): Promise<void> {
    if (row.state_mac !== null && !isCurrentFormat(row.state_mac)) {
      // Format 1: written by an older Coffer still running beside this one during an upgrade
      // (the first open converted every row before it). Accepted when it verifies under the
      // format-1 key, like any other authentic MAC; the next write of the row makes it format 2.
      const legacy = await this.#keys.internalKey(db, STATE_MAC_PURPOSE).catch((e: unknown) => {
        if (e instanceof CofferError && e.code === "KEY_NOT_FOUND") return null;
        throw e;
      });
      if (legacy === null || !verifiesAsFormat1(legacy.key, row, row.state_mac))
        throw stateTampered(row, "rolled back, undeleted, edited or moved");
      return;
    }
    checkWith((await this.#key(db)).h, row);
  }

  /**
   * {@link check}, plus: the current version's row must exist. Versions are never deleted on
   * their own (an erase deletes the secret too), so a missing one was removed outside Coffer.
   */
  async checkCurrent(db: Executor, row: secretRepo.SecretRow, current: Pick<secretRepo.VersionRow, "version"> | null): Promise<void> {
    await this.check(db, row);
    if (row.current_version > 0 && (current === null || current.version !== row.current_version))
      throw stateTampered(row, `its current version v${String(row.current_version)} was deleted`);
  }

  /** The plaintext's HMAC under the current value-HMAC key, for the version's `hmac` column. */
  async valueHmac(db: Executor, value: Secret): Promise<{ readonly hmac: Uint8Array; readonly hmac_key_id: string }> {
    const k = await this.#keys.internalKey(db, VALUE_HMAC_PURPOSE);
    const head = new TextEncoder().encode(VALUE_FORMAT);
    const bytes = value.reveal();
    const all = new Uint8Array(head.byteLength + bytes.byteLength);
    all.set(head);
    all.set(bytes, head.byteLength);
    bytes.fill(0);
    const hmac = hmacSha256(k.key, all);
    all.fill(0);
    return { hmac, hmac_key_id: k.id };
  }
}
