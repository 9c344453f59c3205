import type { Selectable } from "kysely";
import { runStatement, selectRows } from "./sqlite-direct.ts";
import { SQLITE_SQL } from "./sqlite-sql.ts";
import type { Executor, IntegrityMarksTable } from "./schema.ts";
import { isPostgres } from "./store.ts";

export type MarkRow = Selectable<IntegrityMarksTable>;

/** SQL built once per dialect; SQLite's written out (sqlite-sql.ts). */
const findMarkSql = new Map<boolean, string>([[false, SQLITE_SQL.findMark]]);

/** One integrity mark by name; its SQL is built once per dialect (every audit append reads one). */
export async function findMark(db: Executor, name: string): Promise<MarkRow | null> {
  const pg = isPostgres(db);
  let text = findMarkSql.get(pg);
  if (text === undefined) {
    text = db.selectFrom("integrity_marks").selectAll().where("name", "=", "").compile().sql;
    findMarkSql.set(pg, text);
  }
  return (await selectRows<MarkRow>(db, text, [name]))[0] ?? null;
}

const updateMarkSql = new Map<boolean, string>([[false, SQLITE_SQL.updateMark]]);

/** Writes a mark (insert, or update in place): the caller holds the lock that serialises its writers. */
export async function putMark(db: Executor, row: MarkRow): Promise<void> {
  const pg = isPostgres(db);
  let text = updateMarkSql.get(pg);
  if (text === undefined) {
    text = db
      .updateTable("integrity_marks")
      .set({ seq: 0, digest: new Uint8Array(0), key_id: "", mac: new Uint8Array(0), updated_at: "" })
      .where("name", "=", "")
      .compile().sql;
    updateMarkSql.set(pg, text);
  }
  if ((await runStatement(db, text, [row.seq, row.digest, row.key_id, row.mac, row.updated_at, row.name])) > 0) return;
  await db.insertInto("integrity_marks").values(row).execute();
}
