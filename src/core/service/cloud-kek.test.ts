import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeAzureKeyVault } from "../../../test/fixtures/fake-azure-key-vault.ts";
import { FakeGcpKms } from "../../../test/fixtures/fake-gcp-kms.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../test/fixtures/temp-core.ts";
import { CofferError } from "../errors/index.ts";
import { Secret } from "../secret/index.ts";
import { LOCAL_CONTEXT as CTX } from "./actor.ts";
import type { Core } from "./create-core.ts";
import { CryptoErase } from "./crypto-erase.ts";
import { KekRotation } from "./kek-rotation.ts";
import { keyStatus } from "./key-status.ts";
import { OwnerRekey } from "./owner-rekey.ts";

const code = (c: string, message?: RegExp) => (e: unknown) =>
  e instanceof CofferError && e.code === c && (message === undefined || message.test(e.message));
const OWNERS = ["project/a", "project/b", "user/c", "system"];
const reveal = async (core: Core, owner: string, key = "K") =>
  (await core.secrets.reveal(ACTOR, CTX, { owner, key, reason: "test" })).value.revealText();

/** One cloud key service under test: its fake, the env that selects it, and its counters. */
type Cloud = {
  readonly label: string;
  readonly provider: string;
  readonly service: string;
  start(dir: string): Promise<void>;
  stop(): Promise<void>;
  /** The env selecting this provider with the fake's key (and its credentials). */
  env(): Record<string, string>;
  /** The credentials and endpoint settings alone, for a keyring file. */
  credentials(): Record<string, string>;
  /** A keyring-file entry for the fake's key. */
  entry(): Record<string, string>;
  /** Env naming a second key of the same service: a recorded kid whose reference changed. */
  otherKey(): Record<string, string>;
  decrypts(): number;
  encrypts(): number;
  attempts(): number;
  reset(): void;
  throttle(n: number): void;
  disable(): void;
  enable(): void;
  badToken(): Record<string, string>;
};

function gcp(): Cloud {
  let fake: FakeGcpKms;
  let name = "";
  return {
    label: "Google Cloud KMS",
    provider: "gcp-kms",
    service: "Google Cloud KMS",
    start: async () => {
      fake = await FakeGcpKms.start();
      name = fake.createKey("coffer");
    },
    stop: () => fake.close(),
    credentials: () => ({ COFFER_GCP_KMS_ENDPOINT: fake.endpoint, COFFER_GCP_ACCESS_TOKEN: fake.token }),
    env() {
      return { COFFER_KEK_PROVIDER: "gcp-kms", COFFER_GCP_KMS_KEY: name, ...this.credentials() };
    },
    entry: () => ({ provider: "gcp-kms", name, endpoint: fake.endpoint }),
    otherKey: () => ({ COFFER_GCP_KMS_KEY: fake.createKey(`other-${randomBytes(4).toString("hex")}`) }),
    decrypts: () => fake.calls.decrypt,
    encrypts: () => fake.calls.encrypt,
    attempts: () => fake.attempts.decrypt + fake.attempts.encrypt,
    reset: () => {
      fake.reset();
    },
    throttle: (n) => {
      fake.throttle(n);
    },
    disable: () => {
      fake.setEnabled(name, false);
    },
    enable: () => {
      fake.setEnabled(name, true);
    },
    badToken: () => ({ COFFER_GCP_ACCESS_TOKEN: "ya29.revoked" }),
  };
}

function azure(): Cloud {
  let fake: FakeAzureKeyVault;
  let keyId = "";
  let caFile = "";
  return {
    label: "Azure Key Vault",
    provider: "azure-key-vault",
    service: "Azure Key Vault",
    start: async (dir) => {
      fake = await FakeAzureKeyVault.start();
      keyId = fake.createKey("coffer");
      caFile = join(dir, "akv-ca.pem");
      writeFileSync(caFile, fake.caCertificate);
    },
    stop: () => fake.close(),
    credentials: () => ({ COFFER_AZURE_ACCESS_TOKEN: fake.token, COFFER_AZURE_CA_FILE: caFile }),
    env() {
      return { COFFER_KEK_PROVIDER: "azure-key-vault", COFFER_AZURE_KEY_ID: keyId, ...this.credentials() };
    },
    entry: () => ({ provider: "azure-key-vault", keyId }),
    otherKey: () => ({ COFFER_AZURE_KEY_ID: fake.createKey(`other-${randomBytes(4).toString("hex")}`) }),
    decrypts: () => fake.calls.unwrapkey,
    encrypts: () => fake.calls.wrapkey,
    attempts: () => fake.attempts.unwrapkey + fake.attempts.wrapkey,
    reset: () => {
      fake.reset();
    },
    throttle: (n) => {
      fake.throttle(n);
    },
    disable: () => {
      fake.setEnabled("coffer", false);
    },
    enable: () => {
      fake.setEnabled("coffer", true);
    },
    badToken: () => ({ COFFER_AZURE_ACCESS_TOKEN: "eyJ.revoked" }),
  };
}

for (const cloud of [gcp(), azure()]) {
  for (const dialect of DIALECTS) {
    describe(`a KEK in ${cloud.label} (${dialect}, protocol fake)`, () => {
      let dir = "";
      const cleanups: TempCore[] = [];
      before(async () => {
        dir = mkdtempSync(join(tmpdir(), "coffer-cloud-kek-"));
        await cloud.start(dir);
      });
      after(async () => {
        for (const t of cleanups) await t.cleanup();
        await cloud.stop();
        rmSync(dir, { recursive: true, force: true });
      });
      const open = async (env: Record<string, string>): Promise<TempCore> => {
        const t = await tempCore(dialect, env);
        cleanups.push(t);
        return t;
      };

      it("stores, reveals and audits with the cloud key as the only KEK; one decrypt per owner with the cache", async () => {
        const t = await open(cloud.env());
        for (const owner of OWNERS) await t.core.secrets.set(ACTOR, CTX, { owner, key: "K", value: Secret.fromString(`v-${owner}`) });
        const status = await keyStatus(t.core);
        assert.deepEqual([status.keys[0]?.provider, status.keys[0]?.scopeKeys], [cloud.provider, OWNERS.length]);
        assert.ok(
          !JSON.stringify(status).includes(
            cloud.credentials()[Object.keys(cloud.credentials()).find((k) => k.endsWith("TOKEN")) ?? ""] ?? "-",
          ),
        );
        const fresh = await t.reopen();
        await reveal(fresh, "system"); // the first reveal also unwraps internal keys
        cloud.reset();
        for (let i = 0; i < 30; i += 1) assert.equal(await reveal(fresh, "project/a"), "v-project/a");
        await Promise.all(Array.from({ length: 10 }, () => reveal(fresh, "project/b")));
        assert.equal(cloud.decrypts(), 2, "one unwrap per owner: cached, and concurrent misses share one");
        assert.equal((await fresh.audit.verify()).ok, true);
        const off = await t.reopen({ COFFER_KEY_CACHE_TTL: "0" });
        await reveal(off, "system");
        cloud.reset();
        for (let i = 0; i < 3; i += 1) await reveal(off, "project/a");
        assert.ok(cloud.decrypts() >= 3, "without the cache every reveal unwraps");
      });

      it("retries throttling within the bound, then fails with KEY_THROTTLED", async () => {
        const t = await open({ ...cloud.env(), COFFER_KMS_MAX_ATTEMPTS: "3" });
        await t.core.secrets.set(ACTOR, CTX, { owner: "project/t", key: "K", value: Secret.fromString("t") });
        await t.core.secrets.set(ACTOR, CTX, { owner: "system", key: "K", value: Secret.fromString("s") });
        const a = await t.reopen({ COFFER_KMS_MAX_ATTEMPTS: "3" });
        await reveal(a, "system");
        cloud.reset();
        cloud.throttle(2);
        assert.equal(await reveal(a, "project/t"), "t");
        assert.equal(cloud.attempts(), 3, "two throttled attempts, then the one that succeeded");
        const b = await t.reopen({ COFFER_KMS_MAX_ATTEMPTS: "3" });
        await reveal(b, "system");
        cloud.reset();
        cloud.throttle(10);
        await assert.rejects(reveal(b, "project/t"), code("KEY_THROTTLED"));
        assert.equal(cloud.attempts(), 3, "bounded by COFFER_KMS_MAX_ATTEMPTS");
        cloud.reset();
      });

      it("refuses to mint (Coffer does not create cloud keys), and rotates to and from a keyring-listed cloud kid with rekey and erase", async () => {
        const only = await open(cloud.env());
        await assert.rejects(
          new KekRotation(only.core).rotate(ACTOR, CTX, { batchSize: 10 }),
          code("KEY_CANNOT_MINT", new RegExp(`does not create ${cloud.service} keys.*--to-kid`)),
        );

        const keyring = join(dir, `keyring-${dialect}-${randomBytes(3).toString("hex")}.json`);
        const local = randomBytes(32).toString("base64");
        const write = (active: string, keys: Record<string, unknown>) => {
          writeFileSync(keyring, JSON.stringify({ active, keys }), { mode: 0o600 });
        };
        write("local", { local });
        const t = await open({ COFFER_KEYRING_FILE: keyring, ...cloud.credentials() });
        for (const owner of OWNERS) await t.core.secrets.set(ACTOR, CTX, { owner, key: "K", value: Secret.fromString(`v-${owner}`) });

        write("local", { local, cloud: cloud.entry() });
        const listed = await t.reopen();
        cloud.reset();
        const r1 = await new KekRotation(listed).rotate(ACTOR, CTX, { batchSize: 2, toKid: "cloud" });
        assert.deepEqual(
          [r1.fromKid, r1.toKid, r1.minted, r1.rewrappedScopeKeys, r1.rewrappedInternalKeys],
          ["local", "cloud", false, OWNERS.length, 4],
        );
        assert.equal(cloud.encrypts(), OWNERS.length + 4, "one service wrap per scope key and internal key");
        const mid = await keyStatus(listed);
        assert.deepEqual([mid.active, mid.keys.find((k) => k.kid === "cloud")?.provider], ["cloud", cloud.provider]);
        assert.equal(mid.keys.find((k) => k.kid === "local")?.scopeKeys, 0);
        for (const owner of OWNERS) assert.equal(await reveal(listed, owner), `v-${owner}`);

        const rekeyed = await new OwnerRekey(listed).rekey(ACTOR, CTX, { owner: "project/a" });
        assert.equal(rekeyed.rewrapped, 1);
        assert.equal(await reveal(listed, "project/a"), "v-project/a");
        await new CryptoErase(listed, { backupRetentionMs: null }).erase(ACTOR, CTX, { owner: "project/b", confirm: "project/b" });
        await assert.rejects(reveal(listed, "project/b"), code("NOT_FOUND"));

        // A kid held by the cloud service is active: minting is refused, --to-kid goes back.
        await assert.rejects(new KekRotation(listed).rotate(ACTOR, CTX, { batchSize: 10 }), code("KEY_CANNOT_MINT"));
        const r2 = await new KekRotation(listed).rotate(ACTOR, CTX, { batchSize: 10, toKid: "local" });
        assert.deepEqual([r2.fromKid, r2.toKid, r2.rewrappedScopeKeys], ["cloud", "local", OWNERS.length - 1]);
        await new KekRotation(listed).retire(ACTOR, CTX, { kid: "cloud" });
        write("local", { local });
        const last = await t.reopen();
        for (const owner of ["project/a", "user/c", "system"]) assert.equal(await reveal(last, owner), `v-${owner}`);
        assert.equal((await last.audit.verify()).ok, true);
      });

      it("fails closed at start: a disabled key (KEY_DISABLED), a refused token (KEY_ACCESS_DENIED), another key for a recorded kid (KEY_MISMATCH)", async () => {
        const t = await open(cloud.env());
        cloud.disable();
        try {
          await assert.rejects(t.reopen(), code("KEY_DISABLED"));
        } finally {
          cloud.enable();
        }
        await assert.rejects(t.reopen(cloud.badToken()), code("KEY_ACCESS_DENIED"));
        await assert.rejects(t.reopen(cloud.otherKey()), code("KEY_MISMATCH"));
      });
    });
  }
}
