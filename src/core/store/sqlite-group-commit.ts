import type { Executor } from "./schema.ts";

/** How many units of work one SQLite transaction carries at most. */
const MAX_GROUP = 64;

type Unit = {
  readonly fn: (tx: Executor) => Promise<unknown>;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
};
type Done = { readonly unit: Unit; readonly value: unknown };

export type GroupConnection = {
  /** Runs `work` with the connection held (Kysely's connection lock), as the store's transactions do. */
  readonly withConnection: (work: (tx: Executor) => Promise<void>) => Promise<void>;
  /** A statement run directly on the connection. */
  readonly run: (sql: string) => void;
  readonly inTransaction: () => boolean;
};

/**
 * Group commit for SQLite write transactions. Units of work that ask for a transaction in the
 * same turn of the event loop share one `BEGIN IMMEDIATE … COMMIT` (one WAL write instead of
 * one per unit), each inside its own `SAVEPOINT`: a unit that throws is rolled back to its
 * savepoint alone and rejected with its error, the others go on. Every unit's promise settles
 * only after the shared `COMMIT` returned, so a caller is told "done" exactly when its change
 * is as durable as a transaction of its own would have made it (same `synchronous` setting,
 * same commit). A failed `COMMIT` (or an error that makes SQLite roll the whole transaction
 * back, such as a full disk) fails every unit in it: none of them happened. Units run one
 * after another on the one connection, exactly as they took turns on its lock before.
 */
export class SqliteGroupCommit {
  readonly #conn: GroupConnection;
  readonly #queue: Unit[] = [];
  #scheduled = false;

  constructor(conn: GroupConnection) {
    this.#conn = conn;
  }

  run<T>(fn: (tx: Executor) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // After this turn of the event loop: the units that arrive in it join the same transaction.
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      try {
        await this.#group();
      } catch (e) {
        // The connection could not be taken or the transaction not begun (SQLITE_BUSY after
        // the busy timeout…): the units still waiting fail with that error.
        for (const u of this.#queue.splice(0)) u.reject(e);
      }
    }
    this.#scheduled = false;
  }

  /** One transaction over the queued units (and those that queue while it runs, up to the cap). */
  async #group(): Promise<void> {
    const c = this.#conn;
    await c.withConnection(async (tx) => {
      c.run("BEGIN IMMEDIATE");
      const done: Done[] = [];
      // A unit that failed is told only once the transaction ended: its error may come from an
      // earlier unit's write (a conflict, a unique key) that a failed COMMIT then undoes.
      const failed: { readonly unit: Unit; readonly error: unknown }[] = [];
      let current: Unit | null = null;
      try {
        for (let taken = 0; taken < MAX_GROUP; taken++) {
          const unit = this.#queue.shift();
          if (unit === undefined) break;
          current = unit;
          c.run("SAVEPOINT coffer_unit");
          let value: unknown;
          try {
            value = await unit.fn(tx);
          } catch (e) {
            // SQLite may have rolled the whole transaction back itself (a full disk, an I/O
            // error): then the units done so far are gone too, and the catch below fails them.
            if (!c.inTransaction()) throw e;
            c.run("ROLLBACK TO coffer_unit");
            c.run("RELEASE coffer_unit");
            current = null;
            failed.push({ unit, error: e });
            continue;
          }
          c.run("RELEASE coffer_unit");
          current = null;
          done.push({ unit, value });
        }
        c.run("COMMIT");
      } catch (e) {
        current?.reject(e);
        for (const d of done) d.unit.reject(e);
        for (const f of failed) f.unit.reject(e);
        if (c.inTransaction()) c.run("ROLLBACK");
        return;
      }
      for (const d of done) d.unit.resolve(d.value);
      for (const f of failed) f.unit.reject(f.error);
    });
  }
}
