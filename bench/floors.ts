// The raw floor: the least work any store must do for the same operations, written directly
// against the driver and node:crypto, with no query builder, validation, envelope or audit.
import { join } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { OWNER_ID, OWNER_TYPE, type Dialect } from "./common.ts";
import { makeKeys, openVersion, sealValue, type Floor, type FloorOptions, type VersionCipher } from "./floor-common.ts";
import { openPostgresFloor } from "./floor-postgres.ts";

export type { Floor, FloorOptions } from "./floor-common.ts";

/** One floor per dialect; adding a dialect to `Dialect` fails to compile until it has one here. */
const FLOORS: Readonly<Record<Dialect, (opts: FloorOptions) => Floor | Promise<Floor>>> = {
  sqlite: (opts) => openSqliteFloor(opts),
  postgres: (opts) => openPostgresFloor(opts),
};

export async function openFloor(opts: FloorOptions): Promise<Floor> {
  return FLOORS[opts.db.dialect](opts);
}

function openSqliteFloor(opts: FloorOptions): Floor {
  const db = new SqliteDatabase(join(opts.dir, "floor.db"));
  // The same pragmas as Coffer's SQLite store (src/core/store/sqlite-store.ts).
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = ON");
  for (const stmt of opts.schema) db.exec(stmt);

  const keys = makeKeys();
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
    const sealed = sealValue(keys, value);
    const id = insSecret.run(OWNER_TYPE, ownerId, key, 1, "{}", keys.now, keys.now).lastInsertRowid;
    insVersion.run(id, 1, "A256GCM", sealed.nonce, sealed.ciphertext, keys.wrappedDek, keys.scopeKeyId, keys.now, keys.createdBy);
  });
  const reveal1 = (ownerId: string, key: string): Buffer => {
    const row = selCipher.get(OWNER_TYPE, ownerId, key);
    if (row === undefined) throw new Error(`floor: no row for ${key}`);
    return openVersion(keys, row);
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
    // Coffer's SQLite store runs no ANALYZE, and on a unique-key lookup SQLite's plan needs none.
    refreshStats: () => undefined,
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

/** Coffer's own DDL for the tables the SQLite floor writes, read from a Coffer database (so both use the same schema). */
export function readSqliteSchema(home: string): readonly string[] {
  const db = new SqliteDatabase(join(home, "coffer.db"), { readonly: true });
  try {
    return db
      .prepare<[], string>(
        `SELECT sql FROM sqlite_master WHERE tbl_name IN ('secrets', 'secret_versions') AND sql IS NOT NULL ORDER BY rowid`,
      )
      .pluck()
      .all();
  } finally {
    db.close();
  }
}
