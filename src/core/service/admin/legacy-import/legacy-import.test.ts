import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CofferError } from "../../../errors/index.ts";
import { Secret } from "../../../secret/index.ts";
import { rawDb } from "../../../../../test/fixtures/raw-db.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../../test/fixtures/temp-core.ts";
import { LOCAL_CONTEXT as CTX } from "../../access/actor.ts";
import type { Core } from "../../create-core.ts";
import { LegacyImport, type LegacyImportInput } from "./legacy-import.ts";
import { internals } from "../../internals.ts";

/**
 * SOURCE: the seed system's portable strings, written here with bare `node:crypto` exactly as
 * it wrote them: AES-256-GCM, 12-byte iv, 16-byte tag, standard padded base64, no AAD.
 */
function legacySeal(key: Buffer, plaintext: string, kid: string | null): string {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv);
  const ct = Buffer.concat([c.update(plaintext, "utf8"), c.final()]);
  const body = `${iv.toString("base64")}:${c.getAuthTag().toString("base64")}:${ct.toString("base64")}`;
  return kid === null ? `v1:${body}` : `v2:${kid}:${body}`;
}

const MASTER = randomBytes(32);
const RING = { "old-1": randomBytes(32), "old-2": randomBytes(32) };
const v1 = (p: string): string => legacySeal(MASTER, p, null);
const v2 = (kid: keyof typeof RING, p: string): string => legacySeal(RING[kid], p, kid);
const csv = (...rows: readonly string[]): string => ["owner,key,value", ...rows].join("\r\n") + "\r\n";

async function rowCounts(core: Core): Promise<{ secrets: number; versions: number; imports: number }> {
  const n = await internals(core).store.read({ kind: "all", why: "test" }, async (db) => ({
    secrets: (
      await db
        .selectFrom("secrets")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
    versions: (
      await db
        .selectFrom("secret_versions")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  }));
  const events = await internals(core).audit.list({ owner: null, action: "secret.import", afterSeq: 0, limit: 1000 });
  return { secrets: Number(n.secrets), versions: Number(n.versions), imports: events.filter((e) => e.outcome === "success").length };
}

for (const dialect of DIALECTS) {
  describe(`LegacyImport (${dialect})`, () => {
    let t: TempCore;
    let keys: { keyFile: string; keyringFile: string };
    const importing = (text: string, more: Partial<LegacyImportInput> = {}) =>
      new LegacyImport(internals(t.core)).run(ACTOR, CTX, { text, format: "csv", ...keys, dryRun: false, ...more });
    const reveal = async (owner: string, key: string) =>
      (await t.core.secrets.reveal(ACTOR, CTX, { owner, key, reason: "test" })).value.revealText();

    before(async () => {
      t = await tempCore(dialect);
      keys = { keyFile: join(t.home, "legacy.key"), keyringFile: join(t.home, "legacy-keyring.json") };
      writeFileSync(keys.keyFile, `${MASTER.toString("base64")}\n`, { mode: 0o600 });
      const ring = { active: "old-2", keys: { "old-1": RING["old-1"].toString("base64"), "old-2": RING["old-2"].toString("base64") } };
      writeFileSync(keys.keyringFile, JSON.stringify(ring), { mode: 0o600 });
    });
    after(async () => {
      await t.cleanup();
    });

    it("imports a mixed v1/v2 CSV (RFC 4180 quoting), each value revealing as its legacy plaintext", async () => {
      const text = csv(
        `"project/acme",DB_PASSWORD,${v1('pw, "quoted"\nand a newline')}`,
        `project/acme,"API_KEY","${v2("old-1", "api-ключ")}\r\n"`, // a quoted field may span lines
        `user/alice,TOKEN,${v2("old-2", "tok")}`,
      );
      const s = await importing(text);
      assert.deepEqual(
        { imported: s.imported, owners: s.owners, existing: s.existing, v1: s.v1, v2ByKid: s.v2ByKid },
        { imported: 3, owners: 2, existing: 0, v1: 1, v2ByKid: { "old-1": 1, "old-2": 1 } },
      );
      assert.deepEqual(
        s.secrets.map((x) => [x.line, x.owner, x.key, x.version, x.legacy, x.kid]),
        [
          [2, "project/acme", "DB_PASSWORD", 1, "v1", null],
          [3, "project/acme", "API_KEY", 1, "v2", "old-1"],
          [5, "user/alice", "TOKEN", 1, "v2", "old-2"],
        ],
      );
      assert.equal(await reveal("project/acme", "DB_PASSWORD"), 'pw, "quoted"\nand a newline');
      assert.equal(await reveal("project/acme", "API_KEY"), "api-ключ");
      assert.equal(await reveal("user/alice", "TOKEN"), "tok");
      const events = await internals(t.core).audit.list({ owner: null, action: "secret.import", afterSeq: 0, limit: 100 });
      assert.deepEqual(
        events.map((e) => [e.owner, e.key, e.version, e.outcome, e.reason, e.details["legacy"], e.details["kid"] ?? null]),
        [
          ["project/acme", "DB_PASSWORD", 1, "success", "legacy import", "v1", null],
          ["project/acme", "API_KEY", 1, "success", "legacy import", "v2", "old-1"],
          ["user/alice", "TOKEN", 1, "success", "legacy import", "v2", "old-2"],
        ],
      );
    });

    it("imports a JSON array, writing a new version over an existing secret and reporting it", async () => {
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/json", key: "EXISTING", value: Secret.fromString("before") });
      const text = JSON.stringify(
        [
          { owner: "project/json", key: "EXISTING", value: v2("old-2", "after") },
          { owner: "system", key: "SMTP", value: v1("smtp") },
        ],
        null,
        2,
      );
      const s = await importing(text, { format: "json" });
      assert.equal(s.existing, 1);
      assert.deepEqual(
        s.secrets.map((x) => [x.line, x.key, x.version, x.existed]),
        [
          [2, "EXISTING", 2, true],
          [7, "SMTP", 1, false],
        ],
      );
      assert.equal(await reveal("project/json", "EXISTING"), "after");
      assert.equal(await reveal("system", "SMTP"), "smtp");
    });

    it("verifies everything on a dry run but writes nothing", async () => {
      const before = await rowCounts(t.core);
      const s = await importing(csv(`project/dry,A,${v1("a")}`, `project/dry,B,${v2("old-1", "b")}`), { dryRun: true });
      assert.deepEqual([s.dryRun, s.imported, s.v1], [true, 2, 1]);
      assert.deepEqual(await rowCounts(t.core), before);
    });

    const failures: readonly { name: string; text: () => string; code: string; message: RegExp; wrongKey?: boolean }[] = [
      { name: "the legacy master key is wrong", text: () => csv(`project/f,OK,${v2("old-1", "ok")}`, `project/f,BAD,${v1("x")}`), code: "DECRYPT_FAILED", message: /^line 3: cannot decrypt a v1 portable value/, wrongKey: true },
      { name: "a value was tampered with", text: () => csv(`project/f,OK,${v1("ok")}`, `project/f,BAD,${tamper(v1("secret"))}`), code: "DECRYPT_FAILED", message: /^line 3: cannot decrypt/ },
      { name: "a value is malformed", text: () => csv(`project/f,OK,${v1("ok")}`, "project/f,BAD,v1:abc"), code: "CIPHERTEXT_MALFORMED", message: /^line 3: portable value: v1 needs 4/ },
      { name: "an owner is invalid", text: () => csv(`project/f,OK,${v1("ok")}`, `team/x,BAD,${v1("x")}`), code: "INVALID_INPUT", message: /^line 3: owner: must be/ },
      { name: "a key name is invalid", text: () => csv(`project/f,OK,${v1("ok")}`, `project/f,9BAD,${v1("x")}`), code: "INVALID_INPUT", message: /^line 3: key: / },
      { name: "a v2 kid is not in the legacy keyring", text: () => csv(`project/f,OK,${v1("ok")}`, `project/f,BAD,${legacySeal(MASTER, "x", "gone")}`), code: "KEY_NOT_FOUND", message: /^line 3: kid 'gone' is not in the legacy keyring \(known: old-1, old-2\)/ },
      { name: "a secret is listed twice", text: () => csv(`project/f,OK,${v1("ok")}`, `project/g,X,${v1("x")}`, `project/f,OK,${v1("again")}`), code: "INVALID_INPUT", message: /^line 4: project\/f OK is also on line 2/ },
      { name: "the header is not owner,key,value", text: () => `owner,name,value\nproject/f,OK,${v1("ok")}\n`, code: "INVALID_INPUT", message: /^line 1: the first line must be the header owner,key,value/ },
      { name: "a row has a stray quote", text: () => csv(`project/f,OK,${v1("ok")}`, `project/f,B"AD,${v1("x")}`), code: "INVALID_INPUT", message: /^line 3: a field is not quoted/ },
    ]; // prettier-ignore
    for (const f of failures) {
      it(`fails with the line number and writes nothing when ${f.name}`, async () => {
        const before = await rowCounts(t.core);
        const keyFile = f.wrongKey === true ? join(t.home, "wrong.key") : keys.keyFile;
        writeFileSync(join(t.home, "wrong.key"), randomBytes(32).toString("base64"), { mode: 0o600 });
        const err = await importing(f.text(), { keyFile }).then(
          () => assert.fail("expected the import to fail"),
          (e: unknown) => e,
        );
        assert.ok(err instanceof CofferError, String(err));
        assert.equal(err.code, f.code, err.message);
        assert.match(err.message, f.message);
        assert.deepEqual(await rowCounts(t.core), before);
      });
    }

    it("names the line of a bad JSON entry, and never quotes the file when it is not JSON", async () => {
      const entries = [
        { owner: "project/j", key: "OK", value: v1("ok") },
        { owner: "project/j", key: "BAD", value: tamper(v2("old-1", "x")) },
      ];
      const text = `[\n  ${JSON.stringify(entries[0])},\n\n  {\n    "owner": "project/j", "key": "BAD", "value": "${entries[1]?.value ?? ""}"\n  }\n]`;
      await assert.rejects(importing(text, { format: "json" }), (e: unknown) => {
        return e instanceof CofferError && e.code === "DECRYPT_FAILED" && e.message.startsWith("line 4: ");
      });
      const broken = `[{ "owner": "project/j", "key": "K", "value": "${v1("leak")}" `;
      await assert.rejects(importing(broken, { format: "json" }), (e: unknown) => {
        return e instanceof CofferError && e.code === "INVALID_INPUT" && !e.message.includes("v1:") && !e.message.includes("project/j");
      });
    });

    it("refuses a legacy key file that group or others can read", async () => {
      const loose = join(t.home, "loose.key");
      writeFileSync(loose, MASTER.toString("base64"), { mode: 0o600 });
      chmodSync(loose, 0o640);
      await assert.rejects(importing(csv(`project/p,A,${v1("a")}`), { keyFile: loose }), (e: unknown) => {
        return e instanceof CofferError && e.code === "KEY_INVALID" && /chmod 600/.test(e.message);
      });
    });

    if (dialect === "sqlite") {
      it("imports nothing when the audit events cannot be written", async () => {
        const before = await rowCounts(t.core);
        const db = rawDb(t.home);
        db.exec("CREATE TRIGGER no_import BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit down'); END;");
        try {
          await assert.rejects(
            importing(csv(`project/audit,A,${v1("a")}`)),
            (e: unknown) => e instanceof CofferError && e.code === "AUDIT_FAILED",
          );
        } finally {
          db.exec("DROP TRIGGER no_import");
          db.close();
        }
        assert.deepEqual(await rowCounts(t.core), before);
      });
    }
  });
}

/** Flips one bit of the ciphertext part, keeping the string well-formed. */
function tamper(value: string): string {
  const parts = value.split(":");
  const ct = Buffer.from(parts.at(-1) ?? "", "base64");
  ct[0] = (ct[0] ?? 0) ^ 1;
  return [...parts.slice(0, -1), ct.toString("base64")].join(":");
}
