import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../test/fixtures/temp-core.ts";
import { runSet, startCoreWorker, type CoreWorker, type SetOutcome, type SetRequest } from "../../../../test/fixtures/core-worker.ts";
import { LOCAL_CONTEXT, LOCAL_CONTEXT as CTX } from "../access/actor.ts";
import type { Core } from "../create-core.ts";
import { internals } from "../internals.ts";

/**
 * Writers on separate connections, all at once. On PostgreSQL each writer is a core of its own
 * (`reopen()`: another pool, as another server would have); on SQLite each is a core in a
 * worker thread (its own better-sqlite3 connection to the same WAL file, waiting on BEGIN
 * IMMEDIATE's busy timeout), since two SQLite connections in one thread cannot contend (see
 * test/fixtures/core-worker.ts).
 */
type Writer = { set(req: SetRequest): Promise<SetOutcome> };

const WRITERS = 4;
const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

function versionsOf(outcomes: readonly SetOutcome[]): number[] {
  const failed = outcomes.filter((o) => !o.ok);
  assert.deepEqual(failed, [], "every write succeeds");
  return outcomes.flatMap((o) => (o.ok ? [o.version] : [])).sort((a, b) => a - b);
}

for (const dialect of DIALECTS) {
  describe(`SecretsService under concurrent writers on separate connections (${dialect})`, () => {
    let t: TempCore;
    let writers: Writer[] = [];
    let workers: CoreWorker[] = [];
    /** In-process cores that read and reveal (on SQLite only the test's own core). */
    let readers: Core[] = [];
    /** Audit events the tests below caused, for the chain check at the end. */
    let expectedEvents = 1; // the first open's integrity.backfill event

    before(async () => {
      t = await tempCore(dialect);
      if (dialect === "postgres") {
        readers = [t.core, ...(await Promise.all(range(WRITERS - 1).map(() => t.reopen())))];
        writers = readers.map((core) => ({ set: (req) => runSet(core, req) }));
      } else {
        readers = [t.core];
        const started = await Promise.allSettled(range(WRITERS).map(() => startCoreWorker({ COFFER_HOME: t.home })));
        workers = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
        const failed = started.find((s) => s.status === "rejected");
        if (failed !== undefined) throw failed.reason;
        writers = workers;
      }
    });
    after(async () => {
      await Promise.all(workers.map((w) => w.close()));
      await t.cleanup();
    });

    /**
     * Reveals each version (spread over the readers, at once) and returns the values by version.
     * Waits for every reveal even when one fails, so no work leaks into the next test.
     */
    async function revealVersions(owner: string, key: string, versions: readonly number[]): Promise<Map<number, string>> {
      const settled = await Promise.allSettled(
        versions.map(async (version, i) => {
          const reader = readers[i % readers.length] ?? t.core;
          const r = await reader.secrets.reveal(ACTOR, CTX, { owner, key, version, reason: "concurrency test" });
          return [version, r.value.revealText()] as const;
        }),
      );
      expectedEvents += versions.length;
      const failed = settled.find((s) => s.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      return new Map(settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : [])));
    }

    it("lets exactly one of two check-and-set writers win each round and gives the other CONFLICT", async () => {
      const [a, b] = writers;
      assert.ok(a !== undefined && b !== undefined);
      const winners: string[] = [];
      for (const round of range(20)) {
        const req = (who: string): SetRequest => ({
          owner: "project/cas",
          key: "K",
          value: `${who}-${round}`,
          expectedVersion: round,
        });
        const [ra, rb]: [SetOutcome, SetOutcome] = await Promise.all([a.set(req("a")), b.set(req("b"))]);
        const won: SetOutcome[] = [ra, rb].filter((o) => o.ok);
        assert.deepEqual(won, [{ ok: true, version: round + 1 }], `round ${round}: ${JSON.stringify([ra, rb])}`);
        const lost = ra.ok ? rb : ra;
        assert.ok(!lost.ok && lost.code === "CONFLICT", `round ${round}: the loser got ${JSON.stringify(lost)}`);
        winners.push(ra.ok ? `a-${round}` : `b-${round}`);
      }
      expectedEvents += 20 * 2; // each round: the winner's change and the loser's conflict
      const revealed = await revealVersions("project/cas", "K", range(20, 1));
      assert.deepEqual([...revealed.values()], winners);
    });

    it("numbers versions 1..100 with no gap or duplicate when 4 connections write one secret 25 times each at once", async () => {
      const sent = writers.flatMap((w, wi) =>
        range(25).map(async (j) => {
          const value = `w${wi}-${j}`;
          return { value, outcome: await w.set({ owner: "project/hot", key: "HOT", value }) };
        }),
      );
      const results = await Promise.all(sent);
      assert.deepEqual(versionsOf(results.map((r) => r.outcome)), range(100, 1));
      expectedEvents += 100;
      const history = await t.core.secrets.history(ACTOR, LOCAL_CONTEXT, { owner: "project/hot", key: "HOT" });
      assert.deepEqual(
        history.map((h) => h.version),
        range(100, 1),
      );
      assert.equal((await t.core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner: "project/hot", key: "HOT" })).version, 100);
      const revealed = await revealVersions("project/hot", "HOT", range(100, 1));
      for (const r of results) if (r.outcome.ok) assert.equal(revealed.get(r.outcome.version), r.value);
    });

    it("creates a new owner's first secret from every connection at once with one scope key and every version revealable", async () => {
      for (const round of range(3)) {
        const owner = `project/new-${round}`;
        const sent = writers.flatMap((w, wi) =>
          range(5).map(async (j) => {
            const value = `${owner}:w${wi}-${j}`;
            return { value, outcome: await w.set({ owner, key: "FIRST", value }) };
          }),
        );
        const results = await Promise.all(sent);
        assert.deepEqual(versionsOf(results.map((r) => r.outcome)), range(WRITERS * 5, 1));
        expectedEvents += WRITERS * 5;
        const keys = await internals(t.core).store.read({ kind: "owners", patterns: [owner] }, (db) =>
          db
            .selectFrom("scope_keys")
            .select(["id", "state"])
            .where("owner_type", "=", "project")
            .where("owner_id", "=", `new-${round}`)
            .execute(),
        );
        assert.equal(keys.length, 1, `one scope key row for ${owner}: ${JSON.stringify(keys)}`);
        assert.equal(keys[0]?.state, "active");
        const revealed = await revealVersions(owner, "FIRST", range(WRITERS * 5, 1));
        for (const r of results) if (r.outcome.ok) assert.equal(revealed.get(r.outcome.version), r.value);
      }
    });

    it("keeps the audit chain valid when connections append to it at once", async () => {
      // Different secrets of different owners: no row lock orders these writers, only the chain's own lock.
      const outcomes = await Promise.all(
        writers.flatMap((w, wi) => range(10).map((j) => w.set({ owner: `user/u${wi}`, key: `K${j}`, value: "x" }))),
      );
      assert.equal(versionsOf(outcomes).length, WRITERS * 10);
      expectedEvents += WRITERS * 10;
      const verified = await internals(t.core).audit.verify();
      assert.deepEqual(verified.problems, []);
      assert.ok(verified.ok);
      assert.equal(verified.events, expectedEvents);
      assert.equal(verified.headSeq, expectedEvents);
    });
  });
}
