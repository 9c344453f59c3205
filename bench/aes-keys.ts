// AES-256-GCM with a raw Buffer key vs a `crypto.createSecretKey` KeyObject, for the two ways
// Coffer uses keys: long-lived (KEK and scope keys wrapping 32-byte keys) and one-shot (a DEK).
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from "node:crypto";
import { VALUE_BYTES, opsPerSec, timeInterleaved } from "./common.ts";

export type KeyTypeResult = {
  readonly case: "long-lived key" | "fresh key per message";
  readonly what: string;
  readonly ops: number;
  readonly bufferOpsPerSec: number;
  readonly keyObjectOpsPerSec: number;
  /** KeyObject throughput / Buffer throughput. */
  readonly keyObjectSpeedup: number;
};

type Key = Buffer | KeyObject;

/** One seal and one open of `plaintext`; throws unless the round trip is exact. */
function roundTrip(sealKey: Key, openKey: Key, plaintext: Buffer): void {
  const nonce = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", sealKey, nonce);
  const ct = c.update(plaintext);
  c.final();
  const tag = c.getAuthTag();
  const d = createDecipheriv("aes-256-gcm", openKey, nonce);
  d.setAuthTag(tag);
  const pt = d.update(ct);
  d.final();
  if (pt.byteLength !== plaintext.byteLength) throw new Error("aes: bad round trip");
}

async function compare(ops: number, rounds: number, buffer: (n: number) => void, keyObject: (n: number) => void) {
  buffer(Math.min(ops, 2000));
  keyObject(Math.min(ops, 2000));
  const t = await timeInterleaved(
    ops,
    rounds,
    (from, to) => {
      buffer(to - from);
    },
    (from, to) => {
      keyObject(to - from);
    },
  );
  const b = opsPerSec(ops, t.floorMs);
  const k = opsPerSec(ops, t.cofferMs);
  return { ops, bufferOpsPerSec: b, keyObjectOpsPerSec: k, keyObjectSpeedup: b === 0 ? 0 : k / b };
}

export async function measureKeyTypes(ops: number, rounds: number): Promise<readonly KeyTypeResult[]> {
  // Long-lived: one wrapping key, made once; each pair wraps and unwraps a 32-byte key.
  const raw = randomBytes(32);
  const obj = createSecretKey(raw);
  const dek = randomBytes(32);
  const longLived = await compare(
    ops,
    rounds,
    (n) => {
      for (let i = 0; i < n; i++) roundTrip(raw, raw, dek);
    },
    (n) => {
      for (let i = 0; i < n; i++) roundTrip(obj, obj, dek);
    },
  );
  // Fresh: a new random key per message, used once to seal and once to open a value (as a
  // DEK is at `set` and at `reveal`); the KeyObject is built for each use, as Coffer does.
  const value = randomBytes(VALUE_BYTES);
  const fresh = await compare(
    ops,
    rounds,
    (n) => {
      for (let i = 0; i < n; i++) {
        const k = randomBytes(32);
        roundTrip(k, k, value);
      }
    },
    (n) => {
      for (let i = 0; i < n; i++) {
        const k = randomBytes(32);
        roundTrip(createSecretKey(k), createSecretKey(k), value);
      }
    },
  );
  return [
    { case: "long-lived key", what: "wrap+unwrap of a 32-byte key, pairs/s", ...longLived },
    { case: "fresh key per message", what: `seal+open of a ${String(VALUE_BYTES)}-byte value, new key each, pairs/s`, ...fresh },
  ];
}
