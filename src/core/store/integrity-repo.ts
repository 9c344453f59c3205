import { CompiledQuery, type Selectable } from "kysely";
import type { Executor, IntegrityMarksTable } from "./schema.ts";
import { isPostgres } from "./store.ts";

export type MarkRow = Selectable<IntegrityMarksTable>;

const findMarkSql = new Map<boolean, string>();

/** One integrity mark by name; its SQL is built once per dialect (every audit append reads one). */
export async function findMark(db: Executor, name: string): Promise<MarkRow | null> {
  const pg = isPostgres(db);
  let text = findMarkSql.get(pg);
  if (text === undefined) {
    text = db.selectFrom("integrity_marks").selectAll().where("name", "=", "").compile().sql;
    findMarkSql.set(pg, text);
  }
  const r = await db.executeQuery<MarkRow>(CompiledQuery.raw(text, [name]));
  return r.rows[0] ?? null;
}

const updateMarkSql = new Map<boolean, string>();

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
  const r = await db.executeQuery(CompiledQuery.raw(text, [row.seq, row.digest, row.key_id, row.mac, row.updated_at, row.name]));
  if (Number(r.numAffectedRows ?? 0n) > 0) return;
  await db.insertInto("integrity_marks").values(row).execute();
}
