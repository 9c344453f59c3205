import { createHmac } from "node:crypto";
import { createBLAKE3, type IHasher } from "hash-wasm";
import type { AesKey } from "./aes-key.ts";
import { withEncodedFields } from "./aad.ts";
import { toHex } from "./bytes.ts";

/** HMAC-SHA-256 keyed with a 256-bit key. */
export function hmacSha256(key: AesKey, data: Uint8Array): Uint8Array {
  return createHmac("sha256", key.keyObject).update(data).digest();
}

/** HMAC-SHA-256 of the {@link encodeFields} encoding of `fields`, without materialising it. */
export function hmacSha256Fields(key: AesKey, fields: readonly (string | number)[]): Uint8Array {
  return withEncodedFields(fields, (bytes) => createHmac("sha256", key.keyObject).update(bytes).digest());
}

/**
 * BLAKE3 in its keyed-hash mode, the MAC/PRF mode of the BLAKE3 specification (32-byte key,
 * 32-byte output), from `hash-wasm` (BLAKE3's reference C code compiled to WebAssembly; checked
 * against the official test vectors in mac.test.ts). Used where a MAC is computed on every read:
 * one call costs about 0.3-0.4 µs here against 1.8-2.6 µs for `createHmac` with a `KeyObject`,
 * whose per-call object set-up is the floor of `node:crypto` (docs/benchmarks.md).
 *
 * The instance keeps its own copy of the key (hash-wasm re-applies it on each `init`), so it
 * lives exactly as long as the {@link AesKey} it was made from (see {@link keyedBlake3For}).
 * Not re-entrant across an `await`: every call runs init, update and digest synchronously.
 */
export class KeyedBlake3 {
  readonly #hasher: IHasher;

  private constructor(hasher: IHasher) {
    this.#hasher = hasher;
  }

  static async create(key: AesKey): Promise<KeyedBlake3> {
    return new KeyedBlake3(await createBLAKE3(256, key.exportBytes()));
  }

  mac(data: Uint8Array): Uint8Array {
    this.#hasher.init();
    this.#hasher.update(data);
    return this.#hasher.digest("binary");
  }

  /** The MAC of the {@link encodeFields} encoding of `fields`, without materialising it. */
  macFields(fields: readonly (string | number)[]): Uint8Array {
    return withEncodedFields(fields, (bytes) => this.mac(bytes));
  }

  toString(): string {
    return "KeyedBlake3(********)";
  }

  toJSON(): string {
    return "KeyedBlake3(********)";
  }
}

/** One keyed BLAKE3 per key object: dropped with the key when a key cache lets it go. */
const keyedBlake3s = new WeakMap<AesKey, KeyedBlake3>();

/** The keyed BLAKE3 of `key`, made on first use (WebAssembly instantiation is asynchronous). */
export async function keyedBlake3For(key: AesKey): Promise<KeyedBlake3> {
  const made = keyedBlake3s.get(key);
  if (made !== undefined) return made;
  const created = await KeyedBlake3.create(key);
  const raced = keyedBlake3s.get(key);
  if (raced !== undefined) return raced;
  keyedBlake3s.set(key, created);
  return created;
}

/**
 * Starts compiling BLAKE3's WebAssembly module (no key involved; hash-wasm compiles a module once
 * per process), so that the first keyed instance does not wait for it: V8 compiles on a
 * background thread while start-up goes on. A failure here is ignored: the first keyed use
 * compiles again and reports it.
 */
export function prewarmKeyedBlake3(): void {
  createBLAKE3(256).catch(() => undefined);
}

/** The keyed BLAKE3 of `key` when one was made already, else undefined (synchronous). */
export function keyedBlake3If(key: AesKey): KeyedBlake3 | undefined {
  return keyedBlake3s.get(key);
}

/**
 * A key's fingerprint: the first 8 bytes of HMAC-SHA-256(key, label), in hex. Keyed, so it
 * identifies a key without revealing anything usable about it; never an unkeyed hash.
 */
export function fingerprintKey(key: AesKey): string {
  return toHex(hmacSha256(key, new TextEncoder().encode("coffer/kek-fingerprint/v1")).subarray(0, 8));
}
