// The PostgreSQL floor: bare `pg` clients with named (prepared) statements, on copies of Coffer's
// own migrated tables in the same database, plus the same AES-256-GCM work as the SQLite floor.
import pg from "pg";
import { OWNER_ID, OWNER_TYPE, runConcurrent, type Workload } from "./common.ts";
import { makeKeys, openVersion, sealValue, type Floor, type FloorOptions, type VersionCipher } from "./floor-common.ts";

/** The floor's statements may not hang the run: the same limit as Coffer's default. */
const STATEMENT_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The floor's tables, created as copies of the tables Coffer's migrations made: `LIKE …
 * INCLUDING ALL` copies columns, types, defaults, identity, constraints and every index (the
 * primary keys, the unique (owner_type, owner_id, key_name) constraint, the owner index). It
 * copies no foreign key, so `secret_versions`' own ones are copied after, pointed at
 * `floor_secrets`. Row-level security and its policies are not copied: they are Coffer's.
 */
const COPY_SCHEMA = [
  `CREATE TABLE floor_secrets (LIKE secrets INCLUDING ALL)`,
  `CREATE TABLE floor_secret_versions (LIKE secret_versions INCLUDING ALL)`,
  `DO $$ DECLARE fk text; BEGIN
     FOR fk IN SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'secret_versions'::regclass AND contype = 'f' LOOP
       EXECUTE 'ALTER TABLE floor_secret_versions ADD ' || replace(fk, 'REFERENCES secrets(', 'REFERENCES floor_secrets(');
     END LOOP;
   END $$`,
];
const CHECK_SCHEMA = `SELECT
  (SELECT count(*) FROM pg_constraint WHERE conrelid = 'secret_versions'::regclass AND contype = 'f')::int AS coffer_fks,
  (SELECT count(*) FROM pg_constraint WHERE conrelid = 'floor_secret_versions'::regclass AND contype = 'f'
     AND confrelid = 'floor_secrets'::regclass)::int AS floor_fks,
  (SELECT count(*) FROM pg_indexes WHERE tablename IN ('secrets', 'secret_versions'))::int AS coffer_indexes,
  (SELECT count(*) FROM pg_indexes WHERE tablename IN ('floor_secrets', 'floor_secret_versions'))::int AS floor_indexes`;

const INS_SECRET = `INSERT INTO floor_secrets (owner_type, owner_id, key_name, current_version, meta, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`;
const INS_VERSION = `INSERT INTO floor_secret_versions
  (secret_id, version, alg, nonce, ciphertext, wrapped_dek, scope_key_id, created_at, created_by)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
const SEL_SECRET = `SELECT * FROM floor_secrets WHERE owner_type = $1 AND owner_id = $2 AND key_name = $3`;
// The same row-value subquery as the SQLite floor: one statement, one index lookup per table.
const SEL_CIPHER = `SELECT nonce, ciphertext, wrapped_dek FROM floor_secret_versions
  WHERE (secret_id, version) = (SELECT id, current_version FROM floor_secrets WHERE owner_type = $1 AND owner_id = $2 AND key_name = $3)`;

/**
 * Coffer's tables and the floor's. Tables created empty and filled faster than autovacuum looks
 * (once a minute) keep their empty-table statistics, and the planner then reads a secret through
 * the (owner_type, owner_id) index, filtering every row of the owner, instead of the unique key:
 * both sides' lookups grow with the table. The bench analyses both sides alike, untimed.
 */
const ANALYZE = `ANALYZE secrets, secret_versions, floor_secrets, floor_secret_versions`;

/** One bare connection, as the URL's user (the tables' owner), with pg's default type parsing. */
export async function connectFloorClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // A connection the server ends surfaces through the query's rejection; this keeps the event
  // from also crashing the process.
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

function urlOf(opts: FloorOptions): string {
  if (opts.db.dialect !== "postgres") throw new Error("the PostgreSQL floor needs a PostgreSQL database");
  return opts.db.url;
}

/** The masked-`get` floor statement: one named select by the unique key. */
async function selectSecret(client: pg.Client, ownerId: string, key: string): Promise<void> {
  const r = await client.query<Record<string, unknown>>({ name: "floor_get", text: SEL_SECRET, values: [OWNER_TYPE, ownerId, key] });
  if (r.rows.length !== 1) throw new Error(`floor: no row for ${key}`);
}

/** Creates the floor's tables from Coffer's (which must be migrated already), and checks the copy. */
async function copySchema(client: pg.Client): Promise<void> {
  for (const stmt of COPY_SCHEMA) await client.query(stmt);
  const r = await client.query<{ coffer_fks: number; floor_fks: number; coffer_indexes: number; floor_indexes: number }>(CHECK_SCHEMA);
  const c = r.rows[0];
  if (c === undefined || c.coffer_fks !== c.floor_fks || c.coffer_indexes !== c.floor_indexes || c.floor_indexes === 0)
    throw new Error(`floor: the copy of Coffer's tables differs from them: ${JSON.stringify(c)}`);
}

export async function openPostgresFloor(opts: FloorOptions): Promise<Floor> {
  const client = await connectFloorClient(urlOf(opts));
  try {
    await copySchema(client);
  } catch (e) {
    await client.end();
    throw e;
  }
  const keys = makeKeys();
  const insertBoth = async (ownerId: string, key: string, value: string): Promise<void> => {
    const sealed = sealValue(keys, value);
    await client.query("BEGIN");
    try {
      const r = await client.query<{ id: string }>({
        name: "floor_ins_secret",
        text: INS_SECRET,
        values: [OWNER_TYPE, ownerId, key, 1, "{}", keys.now, keys.now],
      });
      const id = r.rows[0]?.id;
      await client.query({
        name: "floor_ins_version",
        text: INS_VERSION,
        values: [id, 1, "A256GCM", sealed.nonce, sealed.ciphertext, keys.wrappedDek, keys.scopeKeyId, keys.now, keys.createdBy],
      });
      await client.query("COMMIT");
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    }
  };
  const reveal1 = async (ownerId: string, key: string): Promise<Buffer> => {
    const r = await client.query<VersionCipher>({ name: "floor_reveal", text: SEL_CIPHER, values: [OWNER_TYPE, ownerId, key] });
    const row = r.rows[0];
    if (row === undefined) throw new Error(`floor: no row for ${key}`);
    return openVersion(keys, row);
  };
  const w = opts.workload;
  return {
    set: async (from, to) => {
      for (let i = from; i < to; i++) await insertBoth(OWNER_ID, w.keys[i]!, w.values[i]!);
    },
    get: async (from, to) => {
      for (let j = from; j < to; j++) await selectSecret(client, OWNER_ID, w.keys[w.order[j]!]!);
    },
    reveal: async (from, to) => {
      for (let j = from; j < to; j++) {
        const i = w.order[j]!;
        if ((await reveal1(OWNER_ID, w.keys[i]!)).toString("utf8") !== w.values[i]) throw new Error("floor: wrong plaintext");
      }
    },
    refreshStats: async () => {
      await client.query(ANALYZE);
    },
    warmUp: async (n) => {
      const owner = `${OWNER_ID}-warmup`;
      for (let i = 0; i < n; i++) await insertBoth(owner, w.keys[i]!, w.values[i]!);
      for (let i = 0; i < n; i++) {
        await selectSecret(client, owner, w.keys[i]!);
        await reveal1(owner, w.keys[i]!);
      }
    },
    close: () => client.end(),
  };
}

/** The `get` floor over several bare connections, for the pool-scaling figure. */
export type FloorReaders = {
  readonly connections: number;
  /** Reads `from`..`to` (read order) with `workers` callers; caller k uses connection k mod n. */
  get(from: number, to: number, workers: number): Promise<void>;
  close(): Promise<void>;
};

export async function openFloorReaders(url: string, connections: number, w: Workload): Promise<FloorReaders> {
  const clients: pg.Client[] = [];
  try {
    for (let k = 0; k < connections; k++) clients.push(await connectFloorClient(url));
  } catch (e) {
    await Promise.all(clients.map((c) => c.end()));
    throw e;
  }
  // Callers sharing a connection take turns on it (pg deprecates queueing queries in a Client).
  const tails: Promise<unknown>[] = clients.map(() => Promise.resolve());
  const onConnection = (k: number, key: string): Promise<void> => {
    const done = tails[k]!.then(() => selectSecret(clients[k]!, OWNER_ID, key));
    tails[k] = done.catch(() => undefined);
    return done;
  };
  return {
    connections,
    get: (from, to, workers) =>
      runConcurrent(from, to, workers, (j, worker) => onConnection(worker % connections, w.keys[w.order[j % w.order.length]!]!)),
    close: async () => {
      await Promise.all(clients.map((c) => c.end()));
    },
  };
}
