// What every dialect's floor shares: its interface, and the AES-256-GCM work any store must do.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { ACTOR_USER, type BenchDb, type RangeFn, type Workload } from "./common.ts";

/** The floor for each benchmarked operation, over the same workload as Coffer. */
export interface Floor {
  /** Insert a secrets row and a version row in one transaction, plus AES-256-GCM of the value. */
  readonly set: RangeFn;
  /** Select the secrets row by (owner_type, owner_id, key_name). */
  readonly get: RangeFn;
  /** Select the current version's cipher columns, unwrap the DEK, decrypt the value. */
  readonly reveal: RangeFn;
  /**
   * Brings the query planner's statistics of both sides' tables up to date, untimed, after
   * writes (PostgreSQL: ANALYZE, as autovacuum does on a live server; SQLite: nothing to do).
   */
  refreshStats(): void | Promise<void>;
  /** Writes (and reads back) `n` secrets of another owner, so both sides start warm. */
  warmUp(n: number): void | Promise<void>;
  close(): void | Promise<void>;
}

export type FloorOptions = {
  readonly db: BenchDb;
  /** The bench's temporary directory (SQLite: the floor's own database file goes there). */
  readonly dir: string;
  readonly workload: Workload;
  /**
   * DDL that gives the floor Coffer's own `secrets` and `secret_versions` tables and indexes:
   * SQLite, Coffer's `CREATE` statements read back; PostgreSQL, copies of Coffer's tables.
   */
  readonly schema: readonly string[];
};

const NONCE = 12;
const TAG = 16;
const KEY = 32;
/** Coffer's wrapped-key layout: format, algorithm, nonce, tag, encrypted key = 62 bytes. */
const WRAP_HEAD = 2;
export const WRAPPED_DEK_BYTES = WRAP_HEAD + NONCE + TAG + KEY;

export type Sealed = { readonly nonce: Buffer; readonly ciphertext: Buffer; readonly tag: Buffer };

export function gcmSeal(key: KeyObject, plaintext: Uint8Array | string): Sealed {
  const nonce = randomBytes(NONCE);
  const c = createCipheriv("aes-256-gcm", key, nonce);
  const ciphertext = typeof plaintext === "string" ? c.update(plaintext, "utf8") : c.update(plaintext);
  c.final();
  return { nonce, ciphertext, tag: c.getAuthTag() };
}

function gcmOpen(key: KeyObject, nonce: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array): Buffer {
  const d = createDecipheriv("aes-256-gcm", key, nonce);
  d.setAuthTag(tag);
  const out = d.update(ciphertext);
  d.final();
  return out;
}

/** What a floor stores beside each row: the keys, and the constant columns of a version row. */
export type FloorKeys = {
  readonly scope: KeyObject;
  readonly dek: KeyObject;
  readonly wrappedDek: Buffer;
  readonly scopeKeyId: string;
  readonly createdBy: string;
  readonly now: string;
};

/**
 * One shared data key, sealed once under the scope key in Coffer's 62-byte layout. Every floor
 * row stores this real wrapped DEK, so `reveal` really unwraps it, while `set` pays for exactly
 * one AES-256-GCM (of the value) and no per-version key generation or wrapping.
 */
export function makeKeys(): FloorKeys {
  const scope = createSecretKey(randomBytes(KEY));
  const dekBytes = randomBytes(KEY);
  const s = gcmSeal(scope, dekBytes);
  const wrappedDek = Buffer.concat([Buffer.of(1, 1), s.nonce, s.tag, s.ciphertext]);
  return {
    scope,
    dek: createSecretKey(dekBytes),
    wrappedDek,
    scopeKeyId: `sk_${randomBytes(16).toString("hex")}`,
    createdBy: `local:${ACTOR_USER}`,
    now: new Date().toISOString(),
  };
}

/** The value's ciphertext column: ciphertext followed by the 16-byte tag, as Coffer stores it. */
export function sealValue(keys: FloorKeys, value: string): { nonce: Buffer; ciphertext: Buffer } {
  const s = gcmSeal(keys.dek, value);
  return { nonce: s.nonce, ciphertext: Buffer.concat([s.ciphertext, s.tag]) };
}

export type VersionCipher = { nonce: Uint8Array; ciphertext: Uint8Array; wrapped_dek: Uint8Array };

/** Two authenticated AES-256-GCM decryptions: the DEK under the scope key, the value under the DEK. */
export function openVersion(keys: FloorKeys, row: VersionCipher): Buffer {
  const w = row.wrapped_dek;
  const dek = gcmOpen(
    keys.scope,
    w.subarray(WRAP_HEAD, WRAP_HEAD + NONCE),
    w.subarray(WRAP_HEAD + NONCE + TAG),
    w.subarray(WRAP_HEAD + NONCE, WRAP_HEAD + NONCE + TAG),
  );
  const ct = row.ciphertext;
  return gcmOpen(createSecretKey(dek), row.nonce, ct.subarray(0, ct.byteLength - TAG), ct.subarray(ct.byteLength - TAG));
}
