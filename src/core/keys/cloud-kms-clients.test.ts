import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { FakeAzureKeyVault } from "../../../test/fixtures/fake-azure-key-vault.ts";
import { FakeGcpKms } from "../../../test/fixtures/fake-gcp-kms.ts";
import { CofferError } from "../errors/index.ts";
import type { Kid } from "../model/index.ts";
import { Secret } from "../secret/index.ts";
import { AzureKeyVaultClient, parseAzureKeyId } from "./azure-key-vault-client.ts";
import { GcpKmsClient } from "./gcp-kms-client.ts";

const KID = "k1" as Kid;
const calls = { timeoutMs: 2000, maxAttempts: 3 };
const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;
const AAD = new Uint8Array([1, 2, 3, 4]);

describe("Google Cloud KMS client (REST, protocol fake)", () => {
  let fake: FakeGcpKms;
  let name = "";
  const client = (token = fake.token, key = name) =>
    new GcpKmsClient(
      KID,
      { name: key, endpoint: fake.endpoint },
      { calls, settings: { accessToken: Secret.fromString(token), endpoint: null } },
    );
  before(async () => {
    fake = await FakeGcpKms.start();
    name = fake.createKey("coffer");
  });
  after(() => fake.close());

  it("encrypts and decrypts bound to the AAD; another AAD is DECRYPT_FAILED; old versions decrypt after a rotation", async () => {
    const c = client();
    const secret = randomBytes(32);
    const ct = await c.encrypt(secret, AAD);
    assert.ok(!Buffer.from(ct).includes(secret));
    assert.deepEqual(Buffer.from(await c.decrypt(ct, AAD)), secret);
    await assert.rejects(c.decrypt(ct, new Uint8Array([9])), code("DECRYPT_FAILED"));
    fake.rotateKey(name);
    assert.deepEqual(Buffer.from(await c.decrypt(ct, AAD)), secret);
    c.close();
  });

  it("maps errors to stable codes, retries transient ones within the bound, and never echoes the key or token", async () => {
    const c = client();
    fake.reset();
    fake.unavailable(1);
    await c.encrypt(randomBytes(32), AAD);
    assert.equal(fake.attempts.encrypt, 2);
    fake.reset();
    fake.throttle(5);
    const err = await c.encrypt(randomBytes(32), AAD).catch((e: unknown) => e);
    assert.ok(code("KEY_THROTTLED")(err));
    assert.equal(fake.attempts.encrypt, 3);
    fake.reset();
    await assert.rejects(
      client("ya29.bad").encrypt(randomBytes(32), AAD),
      (e) => code("KEY_ACCESS_DENIED")(e) && !(e as Error).message.includes("ya29"),
    );
    assert.equal(fake.attempts.encrypt, 0, "UNAUTHENTICATED is not retried");
    await assert.rejects(
      client(fake.token, fake.createKey("gone").replace("gone", "missing")).encrypt(randomBytes(32), AAD),
      code("KEY_NOT_FOUND"),
    );
    const off = fake.createKey("off");
    fake.setEnabled(off, false);
    await assert.rejects(client(fake.token, off).encrypt(randomBytes(32), AAD), code("KEY_DISABLED"));
    const closed = await FakeGcpKms.start();
    const url = closed.endpoint;
    await closed.close();
    const down = new GcpKmsClient(
      KID,
      { name, endpoint: url },
      { calls: { timeoutMs: 500, maxAttempts: 2 }, settings: { accessToken: Secret.fromString("t"), endpoint: null } },
    );
    await assert.rejects(down.encrypt(randomBytes(32), AAD), code("KEY_UNAVAILABLE"));
  });
});

describe("Azure Key Vault client (REST over HTTPS, protocol fake)", () => {
  let fake: FakeAzureKeyVault;
  let keyId = "";
  const client = (token = fake.token, id = keyId) => {
    const ref = parseAzureKeyId(id);
    assert.ok(ref !== null);
    return new AzureKeyVaultClient(KID, ref, {
      calls,
      settings: { accessToken: Secret.fromString(token), authorityHost: null, caCertificates: fake.caCertificate },
    });
  };
  before(async () => {
    fake = await FakeAzureKeyVault.start();
    keyId = fake.createKey("coffer");
  });
  after(() => fake.close());

  it("parses key ids: vault URL, name, optional version; refuses anything else", () => {
    assert.deepEqual(parseAzureKeyId("https://acme.vault.azure.net/keys/coffer"), {
      vaultUrl: "https://acme.vault.azure.net",
      name: "coffer",
      version: null,
    });
    assert.deepEqual(parseAzureKeyId("https://acme.vault.azure.net/keys/coffer/0123abcd"), {
      vaultUrl: "https://acme.vault.azure.net",
      name: "coffer",
      version: "0123abcd",
    });
    for (const bad of [
      "http://acme.vault.azure.net/keys/coffer",
      "https://acme.vault.azure.net/secrets/coffer",
      "https://acme.vault.azure.net/keys/",
    ]) {
      assert.equal(parseAzureKeyId(bad), null, bad);
    }
  });

  it("binds the AAD through its AES-GCM seal: the vault never sees the key; another AAD or a changed byte fails", async () => {
    const c = client();
    const secret = randomBytes(32);
    fake.reset();
    const ct = await c.encrypt(secret, AAD);
    assert.equal(fake.calls.wrapkey, 1);
    assert.ok(!Buffer.from(ct).includes(secret));
    assert.deepEqual(Buffer.from(await c.decrypt(ct, AAD)), secret);
    await assert.rejects(c.decrypt(ct, new Uint8Array([9])), code("DECRYPT_FAILED"));
    const flipped = Buffer.from(ct);
    flipped[flipped.length - 20] = (flipped[flipped.length - 20] ?? 0) ^ 1;
    await assert.rejects(c.decrypt(flipped, AAD), code("DECRYPT_FAILED"));
    await assert.rejects(c.decrypt(new Uint8Array([7, 7, 7]), AAD), code("CIPHERTEXT_MALFORMED"));
    // A key rotated in the vault: new wraps use the new version (after a restart), old ones still unwrap.
    fake.rotateKey("coffer");
    assert.deepEqual(Buffer.from(await client().decrypt(ct, AAD)), secret);
  });

  it("answers the vault's bearer challenge, maps errors to stable codes and bounds the SDK's retries", async () => {
    const c = client();
    fake.reset();
    const ct = await c.encrypt(randomBytes(32), AAD);
    assert.ok(fake.calls.challenge >= 1, "the first request is answered with a 401 challenge");
    fake.reset();
    fake.throttle(2);
    await c.decrypt(ct, AAD);
    assert.equal(fake.attempts.unwrapkey, 3);
    fake.reset();
    fake.throttle(10);
    await assert.rejects(c.decrypt(ct, AAD), code("KEY_THROTTLED"));
    assert.equal(fake.attempts.unwrapkey, 3);
    fake.reset();
    await assert.rejects(
      client("eyJ.bad").encrypt(randomBytes(32), AAD),
      (e) => code("KEY_ACCESS_DENIED")(e) && !(e as Error).message.includes("eyJ"),
    );
    await assert.rejects(client(fake.token, `${fake.vaultUrl}/keys/missing`).encrypt(randomBytes(32), AAD), code("KEY_NOT_FOUND"));
    fake.setEnabled("coffer", false);
    try {
      await assert.rejects(client().decrypt(ct, AAD), code("KEY_DISABLED"));
    } finally {
      fake.setEnabled("coffer", true);
    }
  });

  it("wrapKeyRaw / unwrapKeyRaw: the vault's plain RSA-OAEP-256 wrap, with the version it used", async () => {
    const c = client();
    const key = randomBytes(32);
    const { version, wrapped } = await c.wrapKeyRaw(key);
    assert.match(version, /^[0-9a-f]{32}$/);
    assert.equal(wrapped.byteLength, 256);
    assert.deepEqual(Buffer.from(await c.unwrapKeyRaw(wrapped, version)), key);
  });
});
