import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { FakeAwsKms } from "../../../test/fixtures/fake-aws-kms.ts";
import { fakeServices } from "../../../test/fixtures/key-services.ts";
import { AesKey, encodeBase64, type ScopeKeyAad } from "../crypto/index.ts";
import { CofferError } from "../errors/index.ts";
import { OwnerId, parseKid } from "../model/index.ts";
import type { KekProvider } from "./kek-provider.ts";
import type { KeyServiceDefaults } from "./key-service-settings.ts";
import { loadKeyring } from "./load-keyring.ts";

const KID = parseKid("kms-1");
const AAD: ScopeKeyAad = { kind: "scope-key", owner: { kind: "project", id: OwnerId.parse("web") }, scopeKeyId: "sk_1", kid: KID };
const MOVED: ScopeKeyAad = { ...AAD, owner: { kind: "project", id: OwnerId.parse("api") } };

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

describe("AWS KMS provider (against the protocol fake)", () => {
  let kms: FakeAwsKms;
  let arn: string;
  const opened: KekProvider[] = [];
  const kek = (keyId = arn, services: Partial<Parameters<typeof fakeServices>[0]> = {}): KekProvider => {
    const s: KeyServiceDefaults = fakeServices({ kms, ...services });
    const p = loadKeyring({ provider: "aws-kms", kid: KID, keyId, services: s }, { allowCreate: false }).active;
    opened.push(p);
    return p;
  };

  before(async () => {
    kms = await FakeAwsKms.start();
    arn = kms.createKey("coffer");
  });
  beforeEach(() => {
    kms.reset();
  });
  after(async () => {
    for (const p of opened) p.close?.();
    await kms.close();
  });

  it("wraps with a signed Encrypt and unwraps with Decrypt, in the service-wrapped format", async () => {
    const p = kek();
    const key = AesKey.generate();
    const wrapped = await p.wrap(key, AAD);
    assert.equal(wrapped[0], 2, "format 2: wrapped by a key service");
    assert.equal(wrapped[1], 1, "service 1: aws-kms");
    assert.deepEqual((await p.unwrap(wrapped, AAD)).exportBytes(), key.exportBytes());
    assert.deepEqual([kms.calls.Encrypt, kms.calls.Decrypt, kms.unsigned], [1, 1, 0]);
    assert.equal(p.describe().provider, "aws-kms");
    assert.match(p.describe().fingerprint, /^[0-9a-f]{16}$/);
  });

  it("refuses a wrapped key moved to another owner: the encryption context is the AAD", async () => {
    const p = kek();
    const wrapped = await p.wrap(AesKey.generate(), AAD);
    await rejectsWith(p.unwrap(wrapped, MOVED), "DECRYPT_FAILED");
  });

  it("refuses a key wrapped by another KMS key (IncorrectKeyException)", async () => {
    const other = kek(kms.createKey());
    const wrapped = await other.wrap(AesKey.generate(), AAD);
    await rejectsWith(kek().unwrap(wrapped, AAD), "DECRYPT_FAILED");
  });

  it("resolves an alias and an alias ARN to the same key", async () => {
    const key = AesKey.generate();
    const wrapped = await kek("alias/coffer").wrap(key, AAD);
    assert.deepEqual((await kek(arn).unwrap(wrapped, AAD)).exportBytes(), key.exportBytes());
  });

  it("retries throttling and succeeds within the bounded attempts", async () => {
    kms.throttle(2);
    const key = AesKey.generate();
    const wrapped = await kek().wrap(key, AAD);
    assert.ok(wrapped.byteLength > 6);
    assert.deepEqual([kms.attempts.Encrypt, kms.calls.Encrypt], [3, 1]);
  });

  it("gives KEY_THROTTLED after maxAttempts throttled tries", async () => {
    kms.throttle(10);
    const e = await rejectsWith(kek(arn, { maxAttempts: 2 }).wrap(AesKey.generate(), AAD), "KEY_THROTTLED");
    assert.equal(kms.attempts.Encrypt, 2);
    assert.match(e.message, /AWS KMS Encrypt for kid 'kms-1'.*throttled.*ThrottlingException/);
  });

  it("retries a 500 (KMSInternalException) and then succeeds", async () => {
    kms.fail("KMSInternalException", 500, 1);
    await kek().wrap(AesKey.generate(), AAD);
    assert.equal(kms.attempts.Encrypt, 2);
  });

  const mapped: readonly (readonly [string, string])[] = [
    ["AccessDeniedException", "KEY_ACCESS_DENIED"],
    ["NotFoundException", "KEY_NOT_FOUND"],
    ["DisabledException", "KEY_DISABLED"],
    ["KMSInvalidStateException", "KEY_DISABLED"],
    ["InvalidCiphertextException", "DECRYPT_FAILED"],
  ];
  for (const [type, code] of mapped) {
    it(`maps ${type} to ${code} without retrying`, async () => {
      kms.fail(type, 400, 1);
      await rejectsWith(kek().wrap(AesKey.generate(), AAD), code);
      assert.equal(kms.attempts.Encrypt, 1);
    });
  }

  it("maps a disabled or deleted key and an unknown key from the service's own state", async () => {
    const disabled = kms.createKey();
    const wrapped = await kek(disabled).wrap(AesKey.generate(), AAD);
    kms.setKeyState(disabled, "Disabled");
    await rejectsWith(kek(disabled).unwrap(wrapped, AAD), "KEY_DISABLED");
    kms.setKeyState(disabled, "PendingDeletion");
    await rejectsWith(kek(disabled).wrap(AesKey.generate(), AAD), "KEY_DISABLED");
    await rejectsWith(kek("alias/nope").wrap(AesKey.generate(), AAD), "KEY_NOT_FOUND");
  });

  it("gives KEY_ACCESS_DENIED when the request is signed with the wrong secret key", async () => {
    await rejectsWith(kek(arn, { secretKey: "not-the-secret" }).wrap(AesKey.generate(), AAD), "KEY_ACCESS_DENIED");
    assert.equal(kms.unsigned, 1);
  });

  it("gives KEY_UNAVAILABLE when the service times out, after bounded attempts", async () => {
    kms.delay(400);
    const started = Date.now();
    try {
      await rejectsWith(kek(arn, { timeoutMs: 100, maxAttempts: 2 }).wrap(AesKey.generate(), AAD), "KEY_UNAVAILABLE");
    } finally {
      kms.delay(0);
    }
    assert.ok(Date.now() - started < 3000, "bounded by timeout × attempts");
  });

  it("gives KEY_UNAVAILABLE when nothing listens", async () => {
    const s = { ...fakeServices({ kms, maxAttempts: 1 }), aws: { ...fakeServices({ kms }).aws, endpoint: "http://127.0.0.1:9" } };
    const p = loadKeyring({ provider: "aws-kms", kid: KID, keyId: arn, services: s }, { allowCreate: false }).active;
    opened.push(p);
    await rejectsWith(p.wrap(AesKey.generate(), AAD), "KEY_UNAVAILABLE");
  });

  it("never puts key bytes in an error message", async () => {
    const key = AesKey.generate();
    const b64 = encodeBase64(key.exportBytes());
    kms.fail("AccessDeniedException", 400, 1);
    const e = await rejectsWith(kek().wrap(key, AAD), "KEY_ACCESS_DENIED");
    assert.ok(!e.message.includes(b64) && !JSON.stringify(e.details).includes(b64));
  });
});
