import pg from "pg";

/** The prepared statements a transaction opens with: BEGIN, then its owner scope, transaction-local. */
export const BEGIN_STATEMENT = { name: "coffer_begin", text: "BEGIN" } as const;
export const TX_SCOPE_STATEMENT = {
  name: "coffer_tx_scope",
  text: "SELECT set_config('coffer.all_owners', $1, true), set_config('coffer.owners', $2, true)",
} as const;

/** The parts of pg's connection a Submittable writes with (pg's own Query uses the same). */
type Connection = {
  readonly stream: { cork?: () => void; uncork?: () => void };
  bind(config: { portal?: string; statement?: string; values?: readonly unknown[] }): void;
  execute(config: { portal?: string; rows?: number }): void;
};

type InnerQuery = {
  prepare(connection: Connection): void;
  handleRowDescription(msg: unknown): void;
  handleDataRow(msg: unknown): void;
  handleCommandComplete(msg: unknown, connection: Connection): void;
  handleEmptyQuery(connection: Connection): void;
  handleError(err: unknown, connection: Connection): void;
  handleReadyForQuery(connection: Connection): void;
  handlePortalSuspended(connection: Connection): void;
  handleCopyInResponse(connection: Connection): void;
  handleCopyData(msg: unknown, connection: Connection): void;
};

/**
 * BEGIN, the transaction-local owner scope and the transaction's first statement in one round
 * trip: a pg Submittable (the interface pg-cursor uses) that writes Bind/Execute for the two
 * prepared opening statements, then pg's own Query for the statement (Bind, Describe, Execute),
 * and one Sync at the end.
 *
 * Why the scope always applies: PostgreSQL runs the messages in order, and after an error it
 * skips every message up to the Sync. So the statement runs only after BEGIN and the
 * `set_config(…, true)` have both succeeded, inside that transaction, exactly as if each had
 * been awaited in turn; if either fails, the statement does not run at all and its caller gets
 * the error. All three statements must already be prepared on the connection (no Parse is
 * sent here: the caller checks), so the replies are BindComplete, CommandComplete (BEGIN),
 * BindComplete, DataRow, CommandComplete (the set_config row, undescribed and ignored), then
 * the statement's own replies, and ReadyForQuery.
 */
export class PipelinedBegin {
  /** Replies before the statement's own: BEGIN's and set_config's CommandComplete. */
  #opening = 2;
  readonly #inner: InnerQuery;
  readonly #scope: readonly [string, string];
  readonly result: Promise<pg.QueryResult>;

  constructor(
    scope: readonly [all: string, owners: string],
    statement: { readonly name: string; readonly text: string; readonly values: readonly unknown[] },
    types: pg.CustomTypesConfig,
  ) {
    this.#scope = scope;
    let settle: (err: unknown, res?: pg.QueryResult) => void = () => undefined;
    this.result = new Promise<pg.QueryResult>((resolve, reject) => {
      settle = (err, res) => {
        // pg reports errors as Error objects (DatabaseError); anything else is still a failure.
        if (err instanceof Error) reject(err);
        else if (err !== null && err !== undefined) reject(new Error("the PostgreSQL statement failed"));
        else resolve(res as pg.QueryResult);
      };
    });
    const Query = pg.Query as unknown as new (
      config: object,
      values: undefined,
      callback: (err: unknown, res?: pg.QueryResult) => void,
    ) => InnerQuery;
    this.#inner = new Query({ name: statement.name, text: statement.text, values: [...statement.values], types }, undefined, settle);
  }

  submit(connection: Connection): null {
    connection.stream.cork?.();
    try {
      connection.bind({ statement: BEGIN_STATEMENT.name, values: [] });
      connection.execute({});
      connection.bind({ statement: TX_SCOPE_STATEMENT.name, values: [...this.#scope] });
      connection.execute({});
      // pg's Query: the statement is already parsed, so Bind, Describe, Execute, Sync.
      this.#inner.prepare(connection);
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(msg: unknown): void {
    if (this.#opening === 0) this.#inner.handleRowDescription(msg);
  }

  handleDataRow(msg: unknown): void {
    if (this.#opening === 0) this.#inner.handleDataRow(msg);
  }

  handleCommandComplete(msg: unknown, connection: Connection): void {
    if (this.#opening > 0) this.#opening--;
    else this.#inner.handleCommandComplete(msg, connection);
  }

  handleEmptyQuery(connection: Connection): void {
    this.#inner.handleEmptyQuery(connection);
  }

  handleError(err: unknown, connection: Connection): void {
    this.#inner.handleError(err, connection);
  }

  handleReadyForQuery(connection: Connection): void {
    this.#inner.handleReadyForQuery(connection);
  }

  handlePortalSuspended(connection: Connection): void {
    this.#inner.handlePortalSuspended(connection);
  }

  handleCopyInResponse(connection: Connection): void {
    this.#inner.handleCopyInResponse(connection);
  }

  handleCopyData(msg: unknown, connection: Connection): void {
    this.#inner.handleCopyData(msg, connection);
  }
}
