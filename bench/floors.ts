// The raw floor: the least work any store must do for the same operations, written directly
// against the driver and node:crypto, with no query builder, validation, envelope or audit.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { ACTOR_USER, OWNER_ID, OWNER_TYPE, type Dialect, type RangeFn, type Workload } from "./common.ts";

/** The floor for each benchmarked operation, over the same workload as Coffer. */
export interface Floor {
  /** Insert a secrets row and a version row in one transaction, plus AES-256-GCM of the value. */
  readonly set: RangeFn;
  /** Select the secrets row by (owner_type, owner_id, key_name). */
  readonly get: RangeFn;
  /** Select the current version's cipher columns, unwrap the DEK, decrypt the value. */
  readonly reveal: RangeFn;
  /** Writes (and reads back) `n` secrets of another owner, so both sides start warm. */
  warmUp(n: number): void;
  close(): void;
}

const NONCE = 12;
const TAG = 16;
const KEY = 32;
/** Coffer's wrapped-key layout: format, algorithm, nonce, tag, encrypted key = 62 bytes. */
const WRAP_HEAD = 2;
export const WRAPPED_DEK_BYTES = WRAP_HEAD + NONCE + TAG + KEY;

function gcmSeal(key: KeyObject, plaintext: Uint8Array | string): { nonce: Buffer; ciphertext: Buffer; tag: Buffer } {
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

/**
 * One shared data key, sealed once under the scope key in Coffer's 62-byte layout. Every floor
 * row stores this real wrapped DEK, so `reveal` really unwraps it, while `set` pays for exactly
 * one AES-256-GCM (of the value) and no per-version key generation or wrapping.
 */
function makeKeys(): { scope: KeyObject; dek: KeyObject; wrappedDek: Buffer } {
  const scope = createSecretKey(randomBytes(KEY));
  const dekBytes = randomBytes(KEY);
  const s = gcmSeal(scope, dekBytes);
  const wrappedDek = Buffer.concat([Buffer.of(1, 1), s.nonce, s.tag, s.ciphertext]);
  return { scope, dek: createSecretKey(dekBytes), wrappedDek };
}

export type FloorOptions = {
  readonly dir: string;
  readonly workload: Workload;
  /** The `CREATE` statements of Coffer's `secrets` and `secret_versions` tables and their indexes. */
  readonly schema: readonly string[];
};

/** One floor per dialect; adding a dialect to `Dialect` fails to compile until it has one here. */
const FLOORS: Readonly<Record<Dialect, (opts: FloorOptions) => Floor>> = { sqlite: (opts) => openSqliteFloor(opts) };

export function openFloor(dialect: Dialect, opts: FloorOptions): Floor {
  return FLOORS[dialect](opts);
}

type VersionCipher = { nonce: Uint8Array; ciphertext: Uint8Array; wrapped_dek: Uint8Array };

function openSqliteFloor(opts: FloorOptions): Floor {
  const db = new SqliteDatabase(join(opts.dir, "floor.db"));
  // The same pragmas as Coffer's SQLite store (src/core/store/sqlite-store.ts).
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  for (const stmt of opts.schema) db.exec(stmt);

  const keys = makeKeys();
  const now = new Date().toISOString();
  const createdBy = `local:${ACTOR_USER}`;
  const scopeKeyId = `sk_${randomBytes(16).toString("hex")}`;
  const insSecret = db.prepare<[string, string, string, number, string, string, string]>(
    `INSERT INTO secrets (owner_type, owner_id, key_name, current_version, meta, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const insVersion = db.prepare<[number | bigint, number, string, Buffer, Buffer, Buffer, string, string, string]>(
    `INSERT INTO secret_versions (secret_id, version, alg, nonce, ciphertext, wrapped_dek, scope_key_id, created_at, created_by)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const selSecret = db.prepare<[string, string, string], Record<string, unknown>>(
    `SELECT * FROM secrets WHERE owner_type = ? AND owner_id = ? AND key_name = ?`,
  );
  // A row-value subquery, not a JOIN: on this SQLite a two-table JOIN lookup costs ~15-20 us more
  // per execution than the same lookup written this way (docs/benchmarks.md), and the floor is
  // the cheapest way to do the work.
  const selCipher = db.prepare<[string, string, string], VersionCipher>(
    `SELECT nonce, ciphertext, wrapped_dek FROM secret_versions
     WHERE (secret_id, version) = (SELECT id, current_version FROM secrets WHERE owner_type = ? AND owner_id = ? AND key_name = ?)`,
  );
  const insertBoth = db.transaction((ownerId: string, key: string, value: string) => {
    const sealed = gcmSeal(keys.dek, value);
    const id = insSecret.run(OWNER_TYPE, ownerId, key, 1, "{}", now, now).lastInsertRowid;
    insVersion.run(
      id,
      1,
      "A256GCM",
      sealed.nonce,
      Buffer.concat([sealed.ciphertext, sealed.tag]),
      keys.wrappedDek,
      scopeKeyId,
      now,
      createdBy,
    );
  });
  const reveal1 = (ownerId: string, key: string): Buffer => {
    const row = selCipher.get(OWNER_TYPE, ownerId, key);
    if (row === undefined) throw new Error(`floor: no row for ${key}`);
    const w = row.wrapped_dek;
    const dek = gcmOpen(
      keys.scope,
      w.subarray(WRAP_HEAD, WRAP_HEAD + NONCE),
      w.subarray(WRAP_HEAD + NONCE + TAG),
      w.subarray(WRAP_HEAD + NONCE, WRAP_HEAD + NONCE + TAG),
    );
    const ct = row.ciphertext;
    return gcmOpen(createSecretKey(dek), row.nonce, ct.subarray(0, ct.byteLength - TAG), ct.subarray(ct.byteLength - TAG));
  };
  const w = opts.workload;
  return {
    set: (from, to) => {
      for (let i = from; i < to; i++) insertBoth.immediate(OWNER_ID, w.keys[i]!, w.values[i]!);
    },
    get: (from, to) => {
      for (let j = from; j < to; j++) {
        if (selSecret.get(OWNER_TYPE, OWNER_ID, w.keys[w.order[j]!]!) === undefined) throw new Error("floor: row missing");
      }
    },
    reveal: (from, to) => {
      for (let j = from; j < to; j++) {
        const i = w.order[j]!;
        if (reveal1(OWNER_ID, w.keys[i]!).toString("utf8") !== w.values[i]) throw new Error("floor: wrong plaintext");
      }
    },
    warmUp: (n) => {
      for (let i = 0; i < n; i++) insertBoth.immediate(`${OWNER_ID}-warmup`, w.keys[i]!, w.values[i]!);
      for (let i = 0; i < n; i++) {
        selSecret.get(OWNER_TYPE, `${OWNER_ID}-warmup`, w.keys[i]!);
        reveal1(`${OWNER_ID}-warmup`, w.keys[i]!);
      }
    },
    close: () => {
      db.close();
    },
  };
}
