// A bounded correctness load test (seed 003: "load tests on list/reveal to verify rate limiting
// and masking", issue 16): two real `coffer serve` processes on one PostgreSQL, concurrent list,
// masked get and reveal requests alternating between them. Checks what must hold under load,
// never how fast: only reveals carry values, every answered reveal has its audit event, and the
// per-token reveal limit holds exactly across both servers. Small by design (part of npm test).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { freshDatabase, type FreshDatabase } from "../fixtures/postgres.ts";
import { call, removeHome, startServer, type ServerHandle, migrateWithCli } from "../fixtures/server.ts";

const KEK = Buffer.alloc(32, 11).toString("base64");
const OWNER = "project/load";
const SECRETS = 8;
/** The reveal limit per token (`COFFER_RATE_LIMIT_REVEAL`), shared by both servers through the database. */
const REVEAL_LIMIT = 15;
const REVEALS = 40;
const LISTS = 30;
const GETS = 30;
/** Requests in flight at once (over both servers). */
const CONCURRENCY = 12;

/** How a masked view shows a value. */
const MASK = "********";
const valueOf = (i: number): string => `load-value-${String(i)}-${"x".repeat(24)}`;

/** Runs `tasks` with at most `n` in flight. */
async function pool<T>(tasks: readonly (() => Promise<T>)[], n: number): Promise<T[]> {
  const out: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await (tasks[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: n }, worker));
  return out;
}

/** Every key named `value` anywhere in a JSON body, with its value. */
function valuesIn(body: unknown): unknown[] {
  if (Array.isArray(body)) return (body as unknown[]).flatMap(valuesIn);
  if (typeof body !== "object" || body === null) return [];
  return Object.entries(body as Record<string, unknown>).flatMap(([k, v]): unknown[] => (k === "value" ? [v] : valuesIn(v)));
}

describe("under concurrent list, get and reveal load on two servers sharing one PostgreSQL", () => {
  let db: FreshDatabase;
  const servers: ServerHandle[] = [];
  before(async () => {
    db = await freshDatabase();
    migrateWithCli(db.url, KEK);
    const env = { COFFER_DB_URL: db.url, COFFER_KEK_BASE64: KEK, COFFER_RATE_LIMIT_REVEAL: `${String(REVEAL_LIMIT)}/1h` };
    servers.push(await startServer({ env }));
    servers.push(await startServer({ env }));
  });
  after(async () => {
    for (const s of servers) {
      await s.stop();
      removeHome(s.home);
    }
    await db.drop();
  });

  it("only reveals carry values, each answered reveal is audited, and the reveal limit holds exactly", async () => {
    const [a, b] = servers;
    assert.ok(a !== undefined && b !== undefined);
    const admin = a.adminToken ?? b.adminToken;
    assert.ok(admin !== null);
    for (let i = 0; i < SECRETS; i++) {
      const r = await call((i % 2 === 0 ? a : b).url, "PUT", `/v1/secrets/${OWNER}/K${String(i)}`, {
        token: admin,
        body: { value: valueOf(i) },
      });
      assert.equal(r.status, 200, r.text);
    }
    const t = await call(a.url, "POST", "/v1/tokens", {
      token: admin,
      body: { name: "load", scopes: ["secrets:read", "secrets:reveal"], owners: [OWNER] },
    });
    assert.equal(t.status, 201, t.text);
    const token = (t.body as { token: string }).token;

    type Done = { kind: "reveal" | "list" | "get"; key: number; status: number; body: unknown; text: string };
    // The three kinds interleaved (reveal, list, get, reveal, …), alternating between the servers.
    const kinds: Done["kind"][] = [];
    for (let n = 0; n < Math.max(REVEALS, LISTS, GETS); n++) {
      if (n < REVEALS) kinds.push("reveal");
      if (n < LISTS) kinds.push("list");
      if (n < GETS) kinds.push("get");
    }
    const tasks = kinds.map((kind, n) => {
      const srv = n % 2 === 0 ? a : b;
      const key = n % SECRETS;
      return async (): Promise<Done> => {
        const r =
          kind === "reveal"
            ? await call(srv.url, "POST", `/v1/secrets/${OWNER}/K${String(key)}:reveal`, { token, body: { reason: "load test" } })
            : kind === "list"
              ? await call(srv.url, "GET", `/v1/secrets?owner=${OWNER}`, { token })
              : await call(srv.url, "GET", `/v1/secrets/${OWNER}/K${String(key)}`, { token });
        return { kind, key, status: r.status, body: r.body, text: r.text };
      };
    });
    const done = await pool(tasks, CONCURRENCY);
    const reveals = done.filter((d) => d.kind === "reveal");
    assert.ok(reveals.length > REVEAL_LIMIT, "the test must ask for more reveals than the limit");

    // Masking: a list or masked get shows every value as the mask, and no plaintext anywhere.
    for (const d of done.filter((x) => x.kind !== "reveal")) {
      assert.equal(d.status, 200, d.text);
      const shown = valuesIn(d.body);
      assert.ok(shown.length > 0, `${d.kind}: no masked value field`);
      for (const v of shown) assert.equal(v, MASK, `${d.kind} carried a value`);
      for (let i = 0; i < SECRETS; i++) assert.ok(!d.text.includes(valueOf(i)), `${d.kind} carried a plaintext`);
    }
    // The limit, exactly: N answered with the right value, the rest 429 without one.
    const answered = reveals.filter((d) => d.status === 200);
    const limited = reveals.filter((d) => d.status === 429);
    assert.equal(answered.length, REVEAL_LIMIT, `statuses: ${reveals.map((d) => d.status).join(",")}`);
    assert.equal(limited.length, reveals.length - REVEAL_LIMIT);
    for (const d of answered) assert.equal((d.body as { value?: unknown }).value, valueOf(d.key));
    for (const d of limited) {
      assert.equal((d.body as { code?: unknown }).code, "RATE_LIMITED");
      assert.deepEqual(valuesIn(d.body), []);
    }
    // Every answered reveal has its audit event (success), and there is no success event more.
    const audit = await call(a.url, "GET", `/v1/audit?owner=${OWNER}&action=secret.reveal&limit=1000`, { token: admin });
    assert.equal(audit.status, 200, audit.text);
    const events = (audit.body as { items: { outcome: string; key: string | null }[] }).items.filter((e) => e.outcome === "success");
    const keysAnswered = answered.map((d) => `K${String(d.key)}`).sort();
    assert.deepEqual(events.map((e) => e.key).sort(), keysAnswered);
  });
});
