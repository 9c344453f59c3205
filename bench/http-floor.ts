// The floor of `npm run bench -- --http`, run as its own process: a bare Fastify route doing
// what the cheapest useful secret read must do: one SQLite select (better-sqlite3, prepared)
// and one AES-256-GCM decrypt (a KeyObject), answering JSON. No auth, no audit, no logging.
// Prints `listening <port>` on stdout.
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import Fastify from "fastify";

const [dbPath = ":memory:", countText = "1000"] = process.argv.slice(2);
const count = Number(countText);
const key = createSecretKey(randomBytes(32));
const db = new Database(dbPath);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
db.exec("CREATE TABLE IF NOT EXISTS v (id INTEGER PRIMARY KEY, nonce BLOB NOT NULL, ct BLOB NOT NULL)");
const ins = db.prepare<[number, Buffer, Buffer]>("INSERT OR REPLACE INTO v (id, nonce, ct) VALUES (?, ?, ?)");
db.transaction(() => {
  for (let i = 0; i < count; i++) {
    const nonce = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", key, nonce);
    const ct = Buffer.concat([c.update(randomBytes(64)), c.final(), c.getAuthTag()]);
    ins.run(i, nonce, ct);
  }
})();
const sel = db.prepare<[number], { nonce: Buffer; ct: Buffer }>("SELECT nonce, ct FROM v WHERE id = ?");

const app = Fastify({ logger: false });
app.get<{ Params: { id: string } }>("/floor/:id", (req, reply) => {
  const row = sel.get(Number(req.params.id));
  if (row === undefined) return reply.code(404).send({ error: "not found" });
  const d = createDecipheriv("aes-256-gcm", key, row.nonce);
  d.setAuthTag(row.ct.subarray(row.ct.length - 16));
  const plain = Buffer.concat([d.update(row.ct.subarray(0, row.ct.length - 16)), d.final()]);
  return reply.send({ id: req.params.id, bytes: plain.length });
});
await app.listen({ host: "127.0.0.1", port: 0 });
const addr = app.server.address();
process.stdout.write(`listening ${String(typeof addr === "object" && addr !== null ? addr.port : 0)}\n`);
process.on("SIGTERM", () => {
  void app.close().then(() => {
    db.close();
    process.exit(0);
  });
});
