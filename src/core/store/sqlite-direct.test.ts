import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { NO_OWNERS } from "./store.ts";
import { openSqliteStore } from "./sqlite-store.ts";
import * as secretRepo from "./secret-repo.ts";
import type { Store } from "./store.ts";
import { secretRow } from "../../../test/fixtures/secret-row.ts";

const OWNER = { ownerType: "project", ownerId: "direct" } as const;
const row = (key: string) => secretRow(OWNER.ownerId, key);

/** Resolves after the event loop has turned a few times (a pending read had every chance to finish). */
const turns = () => new Promise<void>((r) => setTimeout(r, 20));

// The fast path (sqlite-direct.ts) runs the store's prebuilt statements on the connection
// without Kysely's lock; these check that it never reads inside another unit of work's
// open transaction, i.e. never sees rows that may still be rolled back.
describe("SQLite direct statements and open transactions", () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "coffer-direct-"));
    store = openSqliteStore({ path: join(dir, "coffer.db"), busyTimeoutMs: 2000 });
    await store.migrate();
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a read issued while a transaction is open waits for it and never sees its rolled-back row", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const didInsert = new Promise<void>((r) => (inserted = r));
    const tx = store
      .transaction(NO_OWNERS, async (t) => {
        await secretRepo.insertSecretIfAbsent(t, row("UNCOMMITTED"));
        // The transaction's own executor sees its row (direct path inside the transaction).
        assert.notEqual(await secretRepo.findSecret(t, OWNER, "UNCOMMITTED"), null);
        inserted();
        await held;
        throw new Error("roll back");
      })
      .catch((e: unknown) => e);
    await didInsert;
    let settled = false;
    const read = store.read(NO_OWNERS, (db) => secretRepo.findSecret(db, OWNER, "UNCOMMITTED")).finally(() => (settled = true));
    await turns();
    const waited = !settled;
    release();
    assert.equal(((await tx) as Error).message, "roll back");
    assert.equal(waited, true, "the read must wait while another unit of work's transaction is open");
    assert.equal(await read, null);
  });

  it("a read after commit sees the row, on the direct path", async () => {
    await store.transaction(NO_OWNERS, (t) => secretRepo.insertSecretIfAbsent(t, row("COMMITTED")));
    const found = await store.read(NO_OWNERS, (db) => secretRepo.findSecret(db, OWNER, "COMMITTED"));
    assert.equal(found?.key_name, "COMMITTED");
    assert.equal(found.current_version, 1);
  });
});
