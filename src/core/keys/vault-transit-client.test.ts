import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { FakeVaultTransit } from "../../../test/fixtures/fake-vault-transit.ts";
import { fakeServices } from "../../../test/fixtures/key-services.ts";
import { AesKey, encodeBase64, type ScopeKeyAad } from "../crypto/index.ts";
import { CofferError } from "../errors/index.ts";
import { OwnerId, parseKid } from "../model/index.ts";
import type { KekProvider } from "./kek-provider.ts";
import { loadKeyring } from "./load-keyring.ts";
import { vaultTransitClient } from "./service-keks.ts";

const KID = parseKid("transit-1");
const AAD: ScopeKeyAad = { kind: "scope-key", owner: { kind: "user", id: OwnerId.parse("ada") }, scopeKeyId: "sk_1", kid: KID };
const MOVED: ScopeKeyAad = { ...AAD, scopeKeyId: "sk_2" };

async function rejectsWith(p: Promise<unknown>, code: string): Promise<CofferError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CofferError, `expected a CofferError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe("Vault Transit provider (against the protocol fake)", () => {
  let vault: FakeVaultTransit;
  const kek = (
    opts: { keyName?: string; mount?: string; token?: string; timeoutMs?: number; maxAttempts?: number; url?: string } = {},
  ): KekProvider => {
    const services = fakeServices({
      vaultUrl: opts.url ?? vault.url,
      vaultToken: opts.token ?? vault.token,
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      ...(opts.maxAttempts === undefined ? {} : { maxAttempts: opts.maxAttempts }),
    });
    return loadKeyring(
      { provider: "vault-transit", kid: KID, keyName: opts.keyName ?? "coffer", mount: opts.mount ?? "transit", services },
      { allowCreate: false },
    ).active;
  };

  before(async () => {
    vault = await FakeVaultTransit.start();
    vault.createKey("coffer");
    vault.createKey("legacy-rsa", "rsa-2048");
  });
  beforeEach(() => {
    vault.reset();
  });
  after(async () => {
    await vault.close();
  });

  it("wraps with encrypt and unwraps with decrypt, storing the vault:v1: ciphertext in the service-wrapped format", async () => {
    const key = AesKey.generate();
    const wrapped = await kek().wrap(key, AAD);
    assert.deepEqual([wrapped[0], wrapped[1]], [2, 2]);
    assert.match(new TextDecoder().decode(wrapped.subarray(6)), /^vault:v1:/);
    assert.deepEqual((await kek().unwrap(wrapped, AAD)).exportBytes(), key.exportBytes());
    assert.deepEqual([vault.calls.encrypt, vault.calls.decrypt], [1, 1]);
    assert.equal(kek().describe().provider, "vault-transit");
  });

  it("rotates the Transit key (keys/<name>/rotate) and pins a kid to the new version with key_version", async () => {
    vault.createKey("minted");
    const client = vaultTransitClient(KID, { key: "minted" }, fakeServices({ vaultUrl: vault.url, vaultToken: vault.token }), "test");
    assert.equal(await client.rotateKey(), 2);
    assert.equal(vault.calls.rotate, 1);
    const pinned = vaultTransitClient(
      KID,
      { key: "minted", version: 2 },
      fakeServices({ vaultUrl: vault.url, vaultToken: vault.token }),
      "test",
    );
    assert.match(pinned.keyRef, /^transit\/minted@v2$/);
    vault.rotateKey("minted"); // a version 3 made in Vault meanwhile: the kid still encrypts with its own
    const ct = new TextDecoder().decode(await pinned.encrypt(new Uint8Array(32), new Uint8Array([1])));
    assert.match(ct, /^vault:v2:/);
    const tooNew = vaultTransitClient(
      KID,
      { key: "minted", version: 9 },
      fakeServices({ vaultUrl: vault.url, vaultToken: vault.token }),
      "test",
    );
    await rejectsWith(tooNew.encrypt(new Uint8Array(32), new Uint8Array([1])), "KEY_UNAVAILABLE");
    assert.throws(
      () => vaultTransitClient(KID, { key: "minted", version: 0 }, fakeServices({ vaultUrl: vault.url, vaultToken: vault.token }), "test"),
      (e: unknown) => e instanceof CofferError && e.code === "KEY_INVALID",
    );
  });

  it("cannot use transit/rewrap for AAD-bound ciphertexts: Vault's rewrap takes no associated_data (why Coffer decrypts and re-encrypts)", async () => {
    const wrapped = await kek().wrap(AesKey.generate(), AAD);
    const ciphertext = new TextDecoder().decode(wrapped.subarray(6));
    const res = await fetch(`${vault.url}/v1/transit/rewrap/coffer`, {
      method: "POST",
      headers: { "X-Vault-Token": vault.token },
      body: JSON.stringify({ ciphertext, associated_data: encodeBase64(new Uint8Array(1)) }),
    });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { errors: ["cipher: message authentication failed"] });
  });

  it("binds the wrap AAD as associated_data: a moved wrapped key does not unwrap", async () => {
    const wrapped = await kek().wrap(AesKey.generate(), AAD);
    await rejectsWith(kek().unwrap(wrapped, MOVED), "DECRYPT_FAILED");
  });

  it("still unwraps keys wrapped by an older Transit key version after a Transit rotation", async () => {
    const key = AesKey.generate();
    const v1 = await kek().wrap(key, AAD);
    vault.rotateKey("coffer");
    const v2 = await kek().wrap(key, AAD);
    assert.match(new TextDecoder().decode(v2.subarray(6)), /^vault:v2:/);
    assert.deepEqual((await kek().unwrap(v1, AAD)).exportBytes(), key.exportBytes());
  });

  it("retries 429 with backoff and succeeds within the bounded attempts", async () => {
    vault.throttle(2);
    await kek().wrap(AesKey.generate(), AAD);
    assert.deepEqual([vault.attempts.encrypt, vault.calls.encrypt], [3, 1]);
  });

  it("gives KEY_THROTTLED when 429 outlasts the attempts", async () => {
    vault.throttle(10);
    await rejectsWith(kek({ maxAttempts: 2 }).wrap(AesKey.generate(), AAD), "KEY_THROTTLED");
    assert.equal(vault.attempts.encrypt, 2);
  });

  it("retries 503 (sealed) and gives KEY_UNAVAILABLE when it stays sealed", async () => {
    vault.unavailable(1);
    await kek().wrap(AesKey.generate(), AAD);
    assert.equal(vault.attempts.encrypt, 2);
    vault.unavailable(10);
    await rejectsWith(kek({ maxAttempts: 3 }).wrap(AesKey.generate(), AAD), "KEY_UNAVAILABLE");
  });

  it("gives KEY_ACCESS_DENIED for a token Vault refuses (403), without retrying or echoing the token", async () => {
    const e = await rejectsWith(kek({ token: "hvs.wrong" }).wrap(AesKey.generate(), AAD), "KEY_ACCESS_DENIED");
    assert.ok(!e.message.includes("hvs.wrong") && !e.message.includes(vault.token));
  });

  it("gives KEY_NOT_FOUND for an unknown mount, and for decrypt with an unknown key", async () => {
    await rejectsWith(kek({ mount: "nope" }).wrap(AesKey.generate(), AAD), "KEY_NOT_FOUND");
    const wrapped = await kek().wrap(AesKey.generate(), AAD);
    await rejectsWith(kek({ keyName: "missing" }).unwrap(wrapped, AAD), "KEY_NOT_FOUND");
  });

  it("gives KEY_INVALID for a Transit key type without associated data", async () => {
    await rejectsWith(kek({ keyName: "legacy-rsa" }).wrap(AesKey.generate(), AAD), "KEY_INVALID");
  });

  it("gives KEY_UNAVAILABLE on a timeout and when nothing listens", async () => {
    vault.delay(300);
    await rejectsWith(kek({ timeoutMs: 100, maxAttempts: 2 }).wrap(AesKey.generate(), AAD), "KEY_UNAVAILABLE");
    vault.delay(0);
    await rejectsWith(kek({ url: "http://127.0.0.1:9", maxAttempts: 1 }).wrap(AesKey.generate(), AAD), "KEY_UNAVAILABLE");
  });

  it("never puts key bytes in an error message", async () => {
    const key = AesKey.generate();
    vault.unavailable(10);
    const e = await rejectsWith(kek({ maxAttempts: 1 }).wrap(key, AAD), "KEY_UNAVAILABLE");
    assert.ok(!e.message.includes(encodeBase64(key.exportBytes())));
  });

  it("refuses a configuration without a token, or with a non-http address", () => {
    const services = { ...fakeServices({ vaultUrl: vault.url }), vault: { ...fakeServices().vault, address: vault.url } };
    assert.throws(
      () => loadKeyring({ provider: "vault-transit", kid: KID, keyName: "coffer", mount: "transit", services }, { allowCreate: false }),
      (e: unknown) => e instanceof CofferError && e.code === "KEY_NOT_FOUND",
    );
    assert.throws(
      () => kek({ url: "file:///etc/passwd" }),
      (e: unknown) => e instanceof CofferError && e.code === "KEY_INVALID",
    );
  });
});
