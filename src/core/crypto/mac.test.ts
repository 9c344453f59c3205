import assert from "node:assert/strict";
import { inspect } from "node:util";
import { describe, it } from "node:test";
import { AesKey } from "./aes-key.ts";
import { toHex } from "./bytes.ts";
import { KeyedBlake3, keyedBlake3For, keyedBlake3If } from "./mac.ts";

// The official BLAKE3 test vectors (BLAKE3-team/BLAKE3, test_vectors/test_vectors.json),
// keyed_hash mode, first 32 bytes of each extended output: input of `len` bytes repeating
// 0, 1, …, 250; key the ASCII string below.
const VECTOR_KEY = "whats the Elvish word for friend";
const KEYED_HASH: readonly (readonly [number, string])[] = [
  [0, "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26"],
  [1, "6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b"],
  [1023, "c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e"],
  [1024, "75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4"],
  [1025, "357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69"],
  [3073, "68dede9bef00ba89e43f31a6825f4cf433389fedae75c04ee9f0cf16a427c95a"],
];
const input = (len: number): Uint8Array => Uint8Array.from({ length: len }, (_, i) => i % 251);

describe("KeyedBlake3 (state MAC format 2)", () => {
  it("matches the official BLAKE3 keyed_hash vectors, every time the same instance is reused", async () => {
    const h = await KeyedBlake3.create(AesKey.fromBytes(new TextEncoder().encode(VECTOR_KEY), "test vector key"));
    for (let round = 0; round < 2; round++)
      for (const [len, hex] of KEYED_HASH) assert.equal(toHex(h.mac(input(len))), hex, `input_len ${String(len)}, round ${String(round)}`);
  });

  it("depends on the key and on every byte, and never prints its key", async () => {
    const a = await KeyedBlake3.create(AesKey.generate());
    const b = await KeyedBlake3.create(AesKey.generate());
    const msg = input(100);
    assert.notEqual(toHex(a.mac(msg)), toHex(b.mac(msg)));
    const flipped = msg.slice();
    flipped[99] = (flipped[99] ?? 0) ^ 1;
    assert.notEqual(toHex(a.mac(msg)), toHex(a.mac(flipped)));
    assert.equal(a.macFields(["x", 1]).byteLength, 32);
    assert.equal(String(a), "KeyedBlake3(********)");
    assert.equal(JSON.stringify({ a }), '{"a":"KeyedBlake3(********)"}');
    assert.doesNotMatch(inspect(a, { showHidden: true, depth: 5 }), /[0-9a-f]{16}/);
  });

  it("makes one instance per key object, found synchronously afterwards", async () => {
    const key = AesKey.generate();
    assert.equal(keyedBlake3If(key), undefined);
    const [x, y] = await Promise.all([keyedBlake3For(key), keyedBlake3For(key)]);
    assert.equal(x, y);
    assert.equal(keyedBlake3If(key), x);
    assert.notEqual(await keyedBlake3For(AesKey.generate()), x);
  });
});
