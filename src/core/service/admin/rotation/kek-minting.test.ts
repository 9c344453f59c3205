import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FAKE_AWS_CREDENTIALS, FakeAwsKms } from "../../../../../test/fixtures/fake-aws-kms.ts";
import { fakeKmsEnv } from "../../../../../test/fixtures/key-services.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../../test/fixtures/temp-core.ts";
import { CofferError } from "../../../errors/index.ts";
import { Secret } from "../../../secret/index.ts";
import { LOCAL_CONTEXT as CTX } from "../../access/actor.ts";
import type { Core } from "../../create-core.ts";
import { KekRotation } from "./kek-rotation.ts";
import { keyStatus } from "../status/key-status.ts";
import { internals } from "../../internals.ts";

const code = (c: string, text?: RegExp) => (e: unknown) =>
  e instanceof CofferError && e.code === c && (text === undefined || text.test(e.message));
const OWNERS = ["project/a", "project/b", "user/c"];
const reveal = async (core: Core, owner: string) =>
  (await core.secrets.reveal(ACTOR, CTX, { owner, key: "K", reason: "test" })).value.revealText();

for (const dialect of DIALECTS) {
  describe(`rotation that mints or switches the key (${dialect})`, () => {
    let kms: FakeAwsKms;
    let arn = "";
    let dir = "";
    const cleanups: TempCore[] = [];
    before(async () => {
      kms = await FakeAwsKms.start();
      arn = kms.createKey("coffer");
      dir = mkdtempSync(join(tmpdir(), "coffer-mint-"));
    });
    after(async () => {
      for (const t of cleanups) await t.cleanup();
      await kms.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const open = async (env: Record<string, string> = {}): Promise<TempCore> => {
      const t = await tempCore(dialect, env);
      cleanups.push(t);
      return t;
    };

    it("file provider: mints, switches the running core at once, and new writes use the new kid", async () => {
      const t = await open({ COFFER_KEK_PROVIDER: "file" });
      for (const owner of OWNERS) await t.core.secrets.set(ACTOR, CTX, { owner, key: "K", value: Secret.fromString(`v-${owner}`) });
      const r = await new KekRotation(internals(t.core)).rotate(ACTOR, CTX, { batchSize: 2, kid: "k-new", backupRetentionMs: 86_400_000 });
      assert.deepEqual([r.fromKid, r.toKid, r.minted, r.rewrappedScopeKeys], ["primary", "k-new", true, OWNERS.length]);
      assert.ok(r.oldKidSafeToRetireAt !== null && Date.parse(r.oldKidSafeToRetireAt) > Date.now());
      assert.equal(internals(t.core).keys.keyring.active.kid, "k-new");
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/late", key: "K", value: Secret.fromString("late") });
      const s = await keyStatus(internals(t.core), { ...internals(t.core).policy, backupRetentionMs: 86_400_000, now: new Date() });
      assert.equal(s.keys.find((k) => k.kid === "primary")?.scopeKeys, 0);
      assert.equal(s.keys.find((k) => k.kid === "k-new")?.scopeKeys, OWNERS.length + 1);
      assert.ok(s.keys.find((k) => k.kid === "primary")?.safeToRetireAt !== null);
      await new KekRotation(internals(t.core)).retire(ACTOR, CTX, { kid: "primary" });
      const again = await t.reopen();
      for (const owner of OWNERS) assert.equal(await reveal(again, owner), `v-${owner}`);
      assert.equal(await reveal(again, "project/late"), "late");
      assert.equal((await internals(again).audit.verify()).ok, true);
    });

    it("AWS KMS as the only KEK: refused, saying Coffer does not create cloud keys", async () => {
      const t = await open(fakeKmsEnv(kms, arn));
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key: "K", value: Secret.fromString("a") });
      const before = kms.calls.Encrypt;
      await assert.rejects(
        new KekRotation(internals(t.core)).rotate(ACTOR, CTX, { batchSize: 10 }),
        code("KEY_CANNOT_MINT", /^Coffer does not create AWS KMS keys: .*coffer keys rotate --to-kid/),
      );
      assert.equal(kms.calls.Encrypt, before, "nothing wrapped");
      assert.equal((await keyStatus(internals(t.core))).rotationJobs.length, 0);
    });

    it("keyring file: --to-kid moves to an operator-created KMS key online, refuses to mint while KMS is active, and moves back", async () => {
      const keyring = join(dir, `keyring-${dialect}.json`);
      const local = randomBytes(32).toString("base64");
      const kmsEntry = { provider: "aws-kms", keyId: arn, region: kms.region, endpoint: kms.url };
      writeFileSync(keyring, JSON.stringify({ active: "local", keys: { local, kms: kmsEntry } }), { mode: 0o600 });
      const t = await open({
        COFFER_KEYRING_FILE: keyring,
        AWS_ACCESS_KEY_ID: FAKE_AWS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: FAKE_AWS_CREDENTIALS.secretAccessKey,
      });
      for (const owner of OWNERS) await t.core.secrets.set(ACTOR, CTX, { owner, key: "K", value: Secret.fromString(`v-${owner}`) });
      kms.reset();
      const r = await new KekRotation(internals(t.core)).rotate(ACTOR, CTX, { batchSize: 2, toKid: "kms" });
      assert.deepEqual([r.fromKid, r.toKid, r.minted], ["local", "kms", false]);
      assert.equal(kms.calls.Encrypt, OWNERS.length + 4); // scope keys, and the internal keys audit-mac, request-digest, state-mac, value-hmac
      assert.equal((JSON.parse(readFileSync(keyring, "utf8")) as { active: string }).active, "kms");
      for (const owner of OWNERS) assert.equal(await reveal(t.core, owner), `v-${owner}`);
      await assert.rejects(
        new KekRotation(internals(t.core)).rotate(ACTOR, CTX, { batchSize: 2 }),
        code("KEY_CANNOT_MINT", /does not create AWS KMS keys/),
      );
      await assert.rejects(new KekRotation(internals(t.core)).rotate(ACTOR, CTX, { batchSize: 2, toKid: "kms" }), code("INVALID_INPUT"));
      const back = await new KekRotation(internals(t.core)).rotate(ACTOR, CTX, { batchSize: 2, toKid: "local" });
      assert.deepEqual([back.fromKid, back.toKid], ["kms", "local"]);
      // Now a local key is active again, so a plain rotate mints into the keyring file.
      const minted = await new KekRotation(internals(t.core)).rotate(ACTOR, CTX, { batchSize: 2 });
      assert.equal(minted.minted, true);
      const doc = JSON.parse(readFileSync(keyring, "utf8")) as { active: string; keys: Record<string, unknown> };
      assert.equal(doc.active, minted.toKid);
      assert.deepEqual(doc.keys["kms"], kmsEntry);
      const reopened = await t.reopen();
      for (const owner of OWNERS) assert.equal(await reveal(reopened, owner), `v-${owner}`);
    });
  });
}
