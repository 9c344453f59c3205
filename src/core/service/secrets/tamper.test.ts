import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { CofferError } from "../../errors/index.ts";
import { Secret } from "../../secret/index.ts";
import { ACTOR, tempCore, type TempCore } from "../../../../test/fixtures/temp-core.ts";
import { dropAuditTriggers, rawDb } from "../../../../test/fixtures/raw-db.ts";
import { LOCAL_CONTEXT, LOCAL_CONTEXT as CTX } from "../access/actor.ts";
import { internals } from "../internals.ts";

const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;

type VersionCols = { ciphertext: Buffer; nonce: Buffer; wrapped_dek: Buffer; scope_key_id: string; alg: string };

describe("stored ciphertexts under attack", () => {
  let t: TempCore;
  beforeEach(async () => {
    t = await tempCore("sqlite");
    await t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key: "K", value: Secret.fromString("alpha") });
    await t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key: "K", value: Secret.fromString("alpha-2") });
    await t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key: "OTHER", value: Secret.fromString("other") });
    await t.core.secrets.set(ACTOR, CTX, { owner: "project/b", key: "K", value: Secret.fromString("bravo") });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  /** Copies the ciphertext columns of (owner, key, version) over those of another row. */
  function move(from: [string, string, number], to: [string, string, number]): void {
    const db = rawDb(t.home);
    const pick = db.prepare(
      "SELECT v.ciphertext, v.nonce, v.wrapped_dek, v.scope_key_id, v.alg FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.owner_id = ? AND s.key_name = ? AND v.version = ?",
    );
    const src = pick.get(...from) as VersionCols;
    db.prepare(
      "UPDATE secret_versions SET ciphertext = ?, nonce = ?, wrapped_dek = ?, scope_key_id = ?, alg = ? WHERE version = ? AND secret_id = (SELECT id FROM secrets WHERE owner_id = ? AND key_name = ?)",
    ).run(src.ciphertext, src.nonce, src.wrapped_dek, src.scope_key_id, src.alg, to[2], to[0], to[1]);
    db.close();
  }

  it("rejects a value ciphertext moved to another owner", async () => {
    move(["a", "K", 1], ["b", "K", 1]);
    await assert.rejects(t.core.secrets.reveal(ACTOR, CTX, { owner: "project/b", key: "K", reason: "r" }), code("DECRYPT_FAILED"));
  });

  it("rejects a value ciphertext moved to another key name", async () => {
    move(["a", "K", 1], ["a", "OTHER", 1]);
    await assert.rejects(t.core.secrets.reveal(ACTOR, CTX, { owner: "project/a", key: "OTHER", reason: "r" }), code("DECRYPT_FAILED"));
  });

  it("rejects a value ciphertext moved to another version", async () => {
    move(["a", "K", 1], ["a", "K", 2]);
    await assert.rejects(t.core.secrets.reveal(ACTOR, CTX, { owner: "project/a", key: "K", reason: "r" }), (e: unknown) => {
      assert.ok(e instanceof CofferError && e.code === "DECRYPT_FAILED");
      assert.match(e.message, /project\/a K v2/);
      assert.ok(!e.message.includes("alpha"));
      return true;
    });
  });

  it("rejects a flipped byte in a stored ciphertext, nonce or wrapped DEK", async () => {
    for (const col of ["ciphertext", "nonce", "wrapped_dek"] as const) {
      const db = rawDb(t.home);
      const row = db
        .prepare(`SELECT ${col} AS b FROM secret_versions WHERE version = 1 AND secret_id = (SELECT id FROM secrets WHERE owner_id = 'b')`)
        .get() as { b: Buffer };
      const flipped = Buffer.from(row.b);
      flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0x01;
      db.prepare(
        `UPDATE secret_versions SET ${col} = ? WHERE version = 1 AND secret_id = (SELECT id FROM secrets WHERE owner_id = 'b')`,
      ).run(flipped);
      db.close();
      await assert.rejects(t.core.secrets.reveal(ACTOR, CTX, { owner: "project/b", key: "K", reason: "r" }), code("DECRYPT_FAILED"), col);
      const fix = rawDb(t.home);
      fix
        .prepare(`UPDATE secret_versions SET ${col} = ? WHERE version = 1 AND secret_id = (SELECT id FROM secrets WHERE owner_id = 'b')`)
        .run(row.b);
      fix.close();
    }
  });

  it("rejects an unknown algorithm id instead of guessing", async () => {
    const db = rawDb(t.home);
    db.prepare("UPDATE secret_versions SET alg = 'XC20P' WHERE secret_id = (SELECT id FROM secrets WHERE owner_id = 'b')").run();
    db.close();
    await assert.rejects(t.core.secrets.reveal(ACTOR, CTX, { owner: "project/b", key: "K", reason: "r" }), code("UNSUPPORTED_ALGORITHM"));
  });

  it("rejects a scope key swapped in from another owner", async () => {
    const db = rawDb(t.home);
    db.prepare(
      "UPDATE secret_versions SET scope_key_id = (SELECT id FROM scope_keys WHERE owner_id = 'a') WHERE secret_id = (SELECT id FROM secrets WHERE owner_id = 'b')",
    ).run();
    db.close();
    await assert.rejects(t.core.secrets.reveal(ACTOR, CTX, { owner: "project/b", key: "K", reason: "r" }), code("DECRYPT_FAILED"));
  });

  it("records a failed reveal in the audit log", async () => {
    move(["a", "K", 1], ["b", "K", 1]);
    await assert.rejects(t.core.secrets.reveal(ACTOR, CTX, { owner: "project/b", key: "K", reason: "r" }));
    const events = await internals(t.core).audit.list({ owner: null, action: "secret.reveal", afterSeq: 0, limit: 100 });
    assert.deepEqual(events.at(-1)?.details, { code: "DECRYPT_FAILED" });
    assert.equal(events.at(-1)?.outcome, "error");
  });
});

describe("AuditLog chain", () => {
  let t: TempCore;
  beforeEach(async () => {
    t = await tempCore("sqlite");
    for (let i = 0; i < 5; i++)
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key: `K${String(i)}`, value: Secret.fromString("x") });
  });
  afterEach(async () => {
    await t.cleanup();
  });

  const tamper = (sqlText: string): void => {
    const db = rawDb(t.home);
    dropAuditTriggers(db);
    db.exec(sqlText);
    db.close();
  };

  it("refuses updates and deletes at the database level", () => {
    const db = rawDb(t.home);
    assert.throws(() => db.exec("UPDATE audit_events SET actor = 'x' WHERE seq = 1"), /append-only/);
    assert.throws(() => db.exec("DELETE FROM audit_events WHERE seq = 1"), /append-only/);
    db.close();
  });

  it("names a modified event", async () => {
    tamper("UPDATE audit_events SET actor = 'local:mallory' WHERE seq = 3");
    const v = await internals(t.core).audit.verify();
    assert.equal(v.ok, false);
    assert.deepEqual(
      v.problems.map((p) => p.seq),
      [3],
    );
    assert.match(v.problems[0]?.problem ?? "", /modified/);
  });

  it("names the gap left by a deleted event", async () => {
    tamper("DELETE FROM audit_events WHERE seq = 2");
    const v = await internals(t.core).audit.verify();
    assert.equal(v.ok, false);
    assert.equal(v.problems[0]?.seq, 3);
    assert.match(v.problems.map((p) => p.problem).join(), /missing/);
  });

  it("names reordered events", async () => {
    tamper(
      "UPDATE audit_events SET seq = 100 WHERE seq = 2; UPDATE audit_events SET seq = 2 WHERE seq = 4; UPDATE audit_events SET seq = 4 WHERE seq = 100;",
    );
    const v = await internals(t.core).audit.verify();
    assert.equal(v.ok, false);
    assert.ok(v.problems.some((p) => p.seq === 2) && v.problems.some((p) => p.seq === 4));
  });

  it("refuses a write whose audit event cannot be written, and writes nothing", async () => {
    const db = rawDb(t.home);
    db.exec("CREATE TRIGGER audit_block BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'blocked'); END");
    db.close();
    await assert.rejects(
      t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key: "NEW", value: Secret.fromString("n") }),
      code("AUDIT_FAILED"),
    );
    await assert.rejects(t.core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner: "project/a", key: "NEW" }), code("NOT_FOUND"));
  });

  it("does not reveal when the reveal's audit event cannot be written", async () => {
    const db = rawDb(t.home);
    db.exec("CREATE TRIGGER audit_block BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'blocked'); END");
    db.close();
    await assert.rejects(t.core.secrets.reveal(ACTOR, CTX, { owner: "project/a", key: "K1", reason: "r" }), code("AUDIT_FAILED"));
  });
});
