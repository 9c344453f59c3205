import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { format, inspect } from "node:util";
import { CofferError } from "../errors/index.ts";
import { AesKey, KEY_BYTES, parseKeyBase64 } from "./aes-key.ts";
import type { Effects } from "./effects.ts";

const SOURCE = "test key source";
const HOW_TO = "openssl rand -base64 32";

/** Every 8-character window of `text`: an error message must contain none of them. */
function windows(text: string, size = 8): string[] {
  const out: string[] = [];
  for (let i = 0; i + size <= text.length; i++) out.push(text.slice(i, i + size));
  return out;
}

function assertKeyInvalid(fn: () => unknown, input: string): CofferError {
  let caught: unknown;
  assert.throws(fn, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof CofferError, "expected a CofferError");
  assert.equal(caught.code, "KEY_INVALID");
  assert.ok(caught.message.includes(SOURCE), `message names the source: ${caught.message}`);
  assert.ok(caught.message.includes(HOW_TO), `message says how to make a key: ${caught.message}`);
  assert.deepEqual(caught.details, { source: SOURCE });
  for (const w of windows(input.trim())) {
    assert.ok(!caught.message.includes(w), `message echoes input text '${w}'`);
    assert.ok(!JSON.stringify(caught.details).includes(w), `details echo input text '${w}'`);
  }
  return caught;
}

/** Bytes whose base64 holds '+' and '/', so the URL-safe spelling differs. */
const PLUS_SLASH_KEY = Uint8Array.from([0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff, ...Array.from({ length: 26 }, (_, i) => i)]);
const canonical = Buffer.from(PLUS_SLASH_KEY).toString("base64");

function nonCanonicalPadding(b64: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const at = b64.indexOf("=") - 1;
  const last = alphabet[alphabet.indexOf(b64.charAt(at)) | 1] ?? "";
  return b64.slice(0, at) + last + b64.slice(at + 1);
}

describe("parseKeyBase64", () => {
  it("decodes a canonical 32-byte base64 key", () => {
    const key = parseKeyBase64(canonical, SOURCE);
    assert.deepEqual(key.exportBytes(), PLUS_SLASH_KEY);
  });

  it("ignores surrounding whitespace such as a trailing newline in a file", () => {
    for (const text of [`${canonical}\n`, `${canonical}\r\n`, `  ${canonical}\t`]) {
      assert.deepEqual(parseKeyBase64(text, SOURCE).exportBytes(), PLUS_SLASH_KEY);
    }
  });

  it("accepts what `openssl rand -base64 32` prints", () => {
    const bytes = randomBytes(KEY_BYTES);
    assert.deepEqual(parseKeyBase64(`${bytes.toString("base64")}\n`, SOURCE).exportBytes(), new Uint8Array(bytes));
  });

  const hostile: readonly (readonly [string, string])[] = [
    ["31 bytes", randomBytes(31).toString("base64")],
    ["33 bytes", randomBytes(33).toString("base64")],
    ["16 bytes", randomBytes(16).toString("base64")],
    ["48 bytes", randomBytes(48).toString("base64")],
    ["empty text", ""],
    ["whitespace only", " \n\t \r\n"],
    ["non-canonical padding bits", nonCanonicalPadding(canonical)],
    ["the URL-safe alphabet", canonical.replaceAll("+", "-").replaceAll("/", "_")],
    ["missing padding", canonical.replace(/=+$/, "")],
    ["extra padding", `${canonical}=`],
    ["a newline inside", `${canonical.slice(0, 20)}\n${canonical.slice(20)}`],
    ["hex text of a 32-byte key", randomBytes(32).toString("hex")],
    ["two keys concatenated", canonical + canonical],
    ["a passphrase", "correct horse battery staple!!!!"],
    ["non-ASCII text", "ключ-ключ-ключ-ключ-ключ-ключ-ключ"],
  ];
  for (const [what, input] of hostile) {
    it(`rejects ${what} with KEY_INVALID without echoing the text`, () => {
      assertKeyInvalid(() => parseKeyBase64(input, SOURCE), input);
    });
  }

  it("says how many bytes a wrong-length key decoded to and that 32 are needed", () => {
    const text = randomBytes(31).toString("base64");
    const err = assertKeyInvalid(() => parseKeyBase64(text, SOURCE), text);
    assert.match(err.message, /31 bytes/);
    assert.match(err.message, /exactly 32 bytes/);
  });

  it("sees URL-safe base64 as not base64, not as a key guessed from another encoding", () => {
    const text = canonical.replaceAll("+", "-");
    const err = assertKeyInvalid(() => parseKeyBase64(text, SOURCE), text);
    assert.match(err.message, /not valid base64/);
  });
});

describe("AesKey", () => {
  it("rejects raw bytes of any length but 32 with KEY_INVALID naming the source", () => {
    for (const n of [0, 1, 16, 31, 33, 64]) {
      assert.throws(() => AesKey.fromBytes(new Uint8Array(n), SOURCE), {
        name: "CofferError",
        code: "KEY_INVALID",
        message: new RegExp(`^${SOURCE}: a key must be exactly 32 bytes, got ${String(n)}$`),
      });
    }
  });

  it("exports the bytes it was built from", () => {
    const bytes = randomBytes(KEY_BYTES);
    assert.deepEqual(AesKey.fromBytes(bytes, SOURCE).exportBytes(), new Uint8Array(bytes));
  });

  it("keeps its own copy when the caller wipes the source bytes", () => {
    const bytes = new Uint8Array(randomBytes(KEY_BYTES));
    const copy = Uint8Array.from(bytes);
    const key = AesKey.fromBytes(bytes, SOURCE);
    bytes.fill(0);
    assert.deepEqual(key.exportBytes(), copy);
  });

  it("generates a key from Effects.random and wipes the random buffer", () => {
    const drawn = new Uint8Array(randomBytes(KEY_BYTES));
    const expected = Uint8Array.from(drawn);
    const sizes: number[] = [];
    const fx: Effects = {
      random: (n) => {
        sizes.push(n);
        return drawn;
      },
      now: () => new Date(0),
    };
    const key = AesKey.generate(fx);
    assert.deepEqual(sizes, [KEY_BYTES]);
    assert.deepEqual(key.exportBytes(), expected);
    assert.ok(
      drawn.every((b) => b === 0),
      "random bytes were wiped",
    );
  });

  it("generates a different key each time with the system effects", () => {
    const hexes = new Set(Array.from({ length: 64 }, () => Buffer.from(AesKey.generate().exportBytes()).toString("hex")));
    assert.equal(hexes.size, 64);
  });

  it("prints no key bytes through toString, JSON, inspect or format", () => {
    const bytes = Uint8Array.from({ length: KEY_BYTES }, (_, i) => (i * 7 + 3) & 0xff);
    const key = AesKey.fromBytes(bytes, SOURCE);
    const b = Buffer.from(bytes);
    const forbidden = [b.toString("base64"), b.toString("base64url"), b.toString("hex"), b.toString("hex").toUpperCase()];
    const printed = [
      String(key),
      // eslint-disable-next-line @typescript-eslint/restrict-template-expressions -- interpolation is the leak under test
      `${key}`,
      key.toString(),
      JSON.stringify(key),
      JSON.stringify({ nested: { key } }),
      inspect(key),
      inspect({ a: { b: { c: key } } }, { depth: 10 }),
      inspect(key, { customInspect: false, showHidden: true, getters: true }),
      format("%o %O %s %j", key, key, key, { key }),
      inspect(new Error("boom", { cause: key })),
    ];
    for (const out of printed) {
      for (const f of forbidden) {
        assert.ok(!out.includes(f), `printed key bytes: ${out}`);
        assert.ok(!out.includes(f.slice(0, 8)), `printed a key prefix: ${out}`);
      }
    }
    assert.equal(String(key), "AesKey(********)");
  });
});
