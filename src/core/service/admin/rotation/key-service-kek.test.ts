import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FAKE_AWS_CREDENTIALS, FakeAwsKms } from "../../../../../test/fixtures/fake-aws-kms.ts";
import { FakeVaultTransit } from "../../../../../test/fixtures/fake-vault-transit.ts";
import { fakeKmsEnv } from "../../../../../test/fixtures/key-services.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../../test/fixtures/temp-core.ts";
import { CofferError } from "../../../errors/index.ts";
import { Secret } from "../../../secret/index.ts";
import { LOCAL_CONTEXT as CTX } from "../../access/actor.ts";
import type { Core } from "../../create-core.ts";
import { CryptoErase } from "../erase/crypto-erase.ts";
import { KekRotation } from "./kek-rotation.ts";
import { keyStatus } from "../status/key-status.ts";
import { OwnerRekey } from "../rekey/owner-rekey.ts";
import { internals } from "../../internals.ts";

const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;
const OWNERS = ["project/a", "project/b", "user/c", "system"];
const reveal = async (core: Core, owner: string, key = "K") =>
  (await core.secrets.reveal(ACTOR, CTX, { owner, key, reason: "test" })).value.revealText();

for (const dialect of DIALECTS) {
  describe(`a KEK in AWS KMS (${dialect}, protocol fake)`, () => {
    let kms: FakeAwsKms;
    let arn = "";
    let dir = "";
    const cleanups: TempCore[] = [];
    before(async () => {
      kms = await FakeAwsKms.start();
      arn = kms.createKey("coffer");
      dir = mkdtempSync(join(tmpdir(), "coffer-kms-"));
    });
    after(async () => {
      for (const t of cleanups) await t.cleanup();
      await kms.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const open = async (env: Record<string, string>): Promise<TempCore> => {
      const t = await tempCore(dialect, env);
      cleanups.push(t);
      return t;
    };

    it("stores, reveals and audits with the KMS key as the only KEK, and reports it in status", async () => {
      const t = await open(fakeKmsEnv(kms, arn));
      for (const owner of OWNERS) await t.core.secrets.set(ACTOR, CTX, { owner, key: "K", value: Secret.fromString(`v-${owner}`) });
      for (const owner of OWNERS) assert.equal(await reveal(t.core, owner), `v-${owner}`);
      assert.equal((await internals(t.core).audit.verify()).ok, true);
      const status = await keyStatus(internals(t.core));
      assert.equal(status.keys.length, 1);
      assert.deepEqual([status.keys[0]?.provider, status.keys[0]?.scopeKeys, status.keys[0]?.internalKeys], ["aws-kms", OWNERS.length, 4]);
      assert.match(status.keys[0]?.fingerprint ?? "", /^[0-9a-f]{16}$/);
      assert.ok(!JSON.stringify(status).includes(FAKE_AWS_CREDENTIALS.secretAccessKey));
      // Another process (a reopened core, empty cache) reads the same data.
      const again = await t.reopen();
      assert.equal(await reveal(again, "project/a"), "v-project/a");
    });

    it("calls Decrypt once for many reads of one owner, and once more after the cache TTL", async () => {
      const t = await open({ ...fakeKmsEnv(kms, arn), COFFER_KEY_CACHE_TTL: "1s" });
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/hot", key: "K", value: Secret.fromString("hot") });
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/warm", key: "K", value: Secret.fromString("warm") });
      const fresh = await t.reopen();
      // The first reveal in a process also unwraps the audit and state MAC keys: take them out of the count.
      await reveal(fresh, "project/warm");
      kms.reset();
      for (let i = 0; i < 50; i += 1) assert.equal(await reveal(fresh, "project/hot"), "hot");
      assert.equal(kms.calls.Decrypt, 1, "one Decrypt for the owner's scope key, not one per read");
      await Promise.all(Array.from({ length: 20 }, () => reveal(fresh, "project/hot")));
      assert.equal(kms.calls.Decrypt, 1, "concurrent reads share the cached key");
      await new Promise((r) => setTimeout(r, 1100));
      kms.reset();
      for (let i = 0; i < 10; i += 1) await reveal(fresh, "project/hot");
      // After the TTL: the scope key, the state MAC key and the audit MAC key once more each.
      assert.equal(kms.calls.Decrypt, 3);
    });

    it("rotates from a local key to the KMS kid and back, with rekey, erase and retire along the way", async () => {
      const keyring = join(dir, `keyring-${dialect}.json`);
      const local = randomBytes(32).toString("base64");
      const kmsEntry = { provider: "aws-kms", keyId: arn, region: kms.region, endpoint: kms.url };
      const write = (active: string, keys: Record<string, unknown>) => {
        writeFileSync(keyring, JSON.stringify({ active, keys }), { mode: 0o600 });
      };
      const env = {
        COFFER_KEYRING_FILE: keyring,
        AWS_ACCESS_KEY_ID: FAKE_AWS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: FAKE_AWS_CREDENTIALS.secretAccessKey,
      };
      write("local", { local });
      const t = await open(env);
      for (const owner of OWNERS) await t.core.secrets.set(ACTOR, CTX, { owner, key: "K", value: Secret.fromString(`v-${owner}`) });

      write("kms", { local, kms: kmsEntry });
      const toKms = await t.reopen();
      kms.reset();
      const r1 = await new KekRotation(internals(toKms)).rotate(ACTOR, CTX, { batchSize: 2 });
      assert.deepEqual([r1.rewrappedScopeKeys, r1.rewrappedInternalKeys], [OWNERS.length, 4]);
      assert.equal(
        kms.calls.Encrypt,
        OWNERS.length + 4,
        "one Encrypt per scope key and internal key (audit MAC, request digest, state MAC, value HMAC)",
      );
      const mid = await keyStatus(internals(toKms));
      const kmsKid = mid.keys.find((k) => k.kid === "kms");
      assert.deepEqual([kmsKid?.provider, kmsKid?.scopeKeys, mid.active], ["aws-kms", OWNERS.length, "kms"]);
      assert.equal(mid.keys.find((k) => k.kid === "local")?.scopeKeys, 0);
      for (const owner of OWNERS) assert.equal(await reveal(toKms, owner), `v-${owner}`);

      const rekeyed = await new OwnerRekey(internals(toKms)).rekey(ACTOR, CTX, { owner: "project/a" });
      assert.equal(rekeyed.rewrapped, 1);
      await new CryptoErase(internals(toKms), { backupRetentionMs: null }).erase(ACTOR, CTX, { owner: "project/b", confirm: "project/b" });
      await assert.rejects(reveal(toKms, "project/b"), code("NOT_FOUND"));

      write("local", { local, kms: kmsEntry });
      const back = await t.reopen();
      await new KekRotation(internals(back)).rotate(ACTOR, CTX, { batchSize: 10 });
      const end = await keyStatus(internals(back));
      assert.deepEqual([end.keys.find((k) => k.kid === "kms")?.scopeKeys, end.keys.find((k) => k.kid === "kms")?.internalKeys], [0, 0]);
      await new KekRotation(internals(back)).retire(ACTOR, CTX, { kid: "kms" });
      write("local", { local });
      const last = await t.reopen();
      for (const owner of ["project/a", "user/c", "system"]) assert.equal(await reveal(last, owner), `v-${owner}`);
      assert.equal((await internals(last).audit.verify()).ok, true);
    });

    it("does not start when the KMS key is disabled (fail closed at boot)", async () => {
      const disabled = kms.createKey();
      kms.setKeyState(disabled, "Disabled");
      await assert.rejects(open(fakeKmsEnv(kms, disabled)), code("KEY_DISABLED"));
    });

    it("refuses to start with a different KMS key for a recorded kid (KEY_MISMATCH)", async () => {
      const t = await open(fakeKmsEnv(kms, arn));
      await assert.rejects(t.reopen({ COFFER_AWS_KMS_KEY_ID: kms.createKey() }), code("KEY_MISMATCH"));
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`a KEK in Vault Transit (${dialect}, protocol fake)`, () => {
    let vault: FakeVaultTransit;
    const cleanups: TempCore[] = [];
    before(async () => {
      vault = await FakeVaultTransit.start();
      vault.createKey("coffer");
    });
    after(async () => {
      for (const t of cleanups) await t.cleanup();
      await vault.close();
    });
    const env = (): Record<string, string> => ({
      COFFER_KEK_PROVIDER: "vault-transit",
      COFFER_VAULT_TRANSIT_KEY: "coffer",
      VAULT_ADDR: vault.url,
      VAULT_TOKEN: vault.token,
    });

    it("stores, reveals, audits and rekeys with the Transit key as the only KEK, one decrypt per owner", async () => {
      const t = await tempCore(dialect, env());
      cleanups.push(t);
      for (const owner of OWNERS) await t.core.secrets.set(ACTOR, CTX, { owner, key: "K", value: Secret.fromString(`v-${owner}`) });
      const fresh = await t.reopen();
      await reveal(fresh, "system");
      vault.reset();
      for (let i = 0; i < 20; i += 1) assert.equal(await reveal(fresh, "project/a"), "v-project/a");
      assert.equal(vault.calls.decrypt, 1);
      await new OwnerRekey(internals(fresh)).rekey(ACTOR, CTX, { owner: "project/a" });
      assert.equal(await reveal(fresh, "project/a"), "v-project/a");
      assert.equal((await internals(fresh).audit.verify()).ok, true);
      const status = await keyStatus(internals(fresh));
      assert.deepEqual([status.keys[0]?.provider, status.keys[0]?.scopeKeys], ["vault-transit", OWNERS.length]);
      assert.ok(!JSON.stringify(status).includes(vault.token));
    });

    it("does not start with a token Vault refuses (KEY_ACCESS_DENIED)", async () => {
      await assert.rejects(tempCore(dialect, { ...env(), VAULT_TOKEN: "hvs.revoked" }), code("KEY_ACCESS_DENIED"));
    });
  });
}
