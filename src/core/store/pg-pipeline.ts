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
  bind(config: { portal?: string; statement?: string; values?: readonly unknown[]; valueMapper?: (v: unknown) => unknown }): void;
  execute(config: { portal?: string; rows?: number }): void;
  sync(): void;
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

/** A prepared statement's result columns on one connection: names and text parsers, in order. */
export type RowShape = { readonly names: readonly string[]; readonly parsers: readonly ((v: string) => unknown)[] };

/** The result shape a statement's first run (with Describe) reported, or null when it cannot be reused (a binary column). */
export function rowShapeOf(fields: readonly pg.FieldDef[], types: pg.CustomTypesConfig): RowShape | null {
  const names: string[] = [];
  const parsers: ((v: string) => unknown)[] = [];
  for (const f of fields) {
    if (f.format !== "text") return null;
    names.push(f.name);
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- pg's TypeId is a numeric enum of OIDs; a column's OID is one.
    parsers.push(types.getTypeParser(f.dataTypeID, "text") as (v: string) => unknown);
  }
  return { names, parsers };
}

/** pg's own mapping of a JavaScript parameter to its wire form (numbers, Buffers, Dates, JSON …), as its Query uses. */
const prepareValue = (pg as unknown as { utils?: { prepareValue?: (v: unknown) => unknown } }).utils?.prepareValue;
if (typeof prepareValue !== "function") throw new Error("pg.utils.prepareValue is missing: the installed pg is not the expected one");
const mapValue = (v: unknown): unknown => prepareValue(v);

/** `SELECT 1`, `INSERT 0 1`, `UPDATE 3`: the command tag and the row count, as pg's Result reads them. */
const COMMAND_TAG = /^([A-Za-z]+)(?: (\d+))?(?: (\d+))?/;

/**
 * A prepared statement that has already run on this connection, run again without asking for
 * its row description: Bind, Execute, Sync (pg's Query also sends Describe every time, and
 * then rebuilds the row parsers from the reply). The columns come from the statement's first
 * run on the connection (`RowShape`), which PostgreSQL keeps fixed for a prepared statement:
 * if the table changes so that the statement's result would change, PostgreSQL fails the
 * statement ("cached plan must not change result type") rather than return other columns.
 * Rows, command and row count are read as pg's Query reads them; an error rejects, after which
 * pg routes nothing more to this query.
 */
export class DescribedRead {
  readonly #name: string;
  readonly #values: readonly unknown[];
  readonly #shape: RowShape;
  readonly #rows: Record<string, unknown>[] = [];
  #command: string | null = null;
  #rowCount: number | null = null;
  #failure: unknown = null;
  #settle: (err: unknown, res?: pg.QueryResult) => void = () => undefined;
  readonly result: Promise<pg.QueryResult>;

  constructor(name: string, values: readonly unknown[], shape: RowShape) {
    this.#name = name;
    this.#values = values;
    this.#shape = shape;
    this.result = new Promise<pg.QueryResult>((resolve, reject) => {
      let done = false;
      this.#settle = (err, res) => {
        if (done) return;
        done = true;
        if (err instanceof Error) reject(err);
        else if (err !== null && err !== undefined) reject(new Error("the PostgreSQL statement failed"));
        else resolve(res as pg.QueryResult);
      };
    });
  }

  submit(connection: Connection): null {
    connection.stream.cork?.();
    try {
      connection.bind({ statement: this.#name, values: this.#values, valueMapper: mapValue });
      connection.execute({});
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(): void {
    // Not asked for (no Describe): a reply that has one is not this statement's.
    this.#failure ??= new Error("unexpected row description for a described statement");
  }

  handleDataRow(msg: unknown): void {
    if (this.#failure !== null) return;
    const fields = (msg as { fields: readonly (string | null)[] }).fields;
    const { names, parsers } = this.#shape;
    if (fields.length !== names.length) {
      this.#failure = new Error("a row of a prepared statement has other columns than its description");
      return;
    }
    const row: Record<string, unknown> = {};
    try {
      for (let i = 0; i < names.length; i++) {
        const raw = fields[i];
        row[names[i] as string] = raw === null || raw === undefined ? null : (parsers[i] as (v: string) => unknown)(raw);
      }
    } catch (e) {
      this.#failure = e;
      return;
    }
    this.#rows.push(row);
  }

  handleCommandComplete(msg: unknown): void {
    const m = COMMAND_TAG.exec((msg as { text?: string }).text ?? "");
    if (m === null) return;
    this.#command = m[1] ?? null;
    const count = m[3] ?? m[2];
    if (count !== undefined) this.#rowCount = Number.parseInt(count, 10);
  }

  handleEmptyQuery(): void {
    // A statement with empty text: no rows, no command.
  }

  handleError(err: unknown): void {
    this.#settle(this.#failure ?? err);
  }

  handleReadyForQuery(): void {
    if (this.#failure !== null) {
      this.#settle(this.#failure);
      return;
    }
    this.#settle(null, { command: this.#command ?? "", rowCount: this.#rowCount, rows: this.#rows, oid: 0, fields: [] } as pg.QueryResult);
  }

  handlePortalSuspended(): void {
    // Execute asks for every row, so the portal is never suspended.
    this.#failure ??= new Error("unexpected portal suspension");
  }

  handleCopyInResponse(): void {
    this.#failure ??= new Error("unexpected COPY from a prepared statement");
  }

  handleCopyData(): void {
    this.#failure ??= new Error("unexpected COPY from a prepared statement");
  }
}
