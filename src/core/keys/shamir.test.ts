import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { inspect } from "node:util";
import { describe, it } from "node:test";
import { combine } from "shamir-secret-sharing";
import { caught } from "../../../test/fixtures/caught.ts";
import { AesKey, fingerprintKey, systemEffects, type Effects } from "../crypto/index.ts";
import { CofferError } from "../errors/index.ts";
import { parseKid } from "../model/index.ts";
import { combineShares, parseShare, splitKey, type KeyShare } from "./shamir.ts";

const KID = parseKid("primary");
const SHARE_LINE = /^coffer-share-v1:primary:[0-9a-f]{16}:[0-9a-f]{12}:\d+-of-\d+:\d+:[A-Za-z0-9+/]{44}:[0-9a-f]{8}$/;

/** Every subset of `items`, smallest first. */
function subsets<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let mask = 1; mask < 1 << items.length; mask++) out.push(items.filter((_, i) => (mask & (1 << i)) !== 0));
  return out.sort((a, b) => a.length - b.length);
}

async function splitLines(key: AesKey, shares: number, threshold: number, fx: Effects = systemEffects): Promise<string[]> {
  const set = await splitKey(key, { kid: KID, shares, threshold }, fx);
  return set.shares.map((s) => s.revealText());
}

const parseAll = (lines: readonly string[]): KeyShare[] => lines.map((l, i) => parseShare(l, `#${String(i + 1)}`));

function sameKey(a: AesKey, b: AesKey): boolean {
  return Buffer.from(a.exportBytes()).equals(b.exportBytes());
}

/** A share line with its checksum recomputed, as a forger (not a typo) would produce. */
function resealed(body: string): string {
  return `${body}:${createHash("sha256").update(body).digest("hex").slice(0, 8)}`;
}
const bodyOf = (line: string): string => line.slice(0, line.lastIndexOf(":"));

async function rejects(p: Promise<unknown>): Promise<CofferError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CofferError, `expected a CofferError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected a CofferError");
}

describe("splitKey and combineShares", () => {
  for (const n of [2, 3, 4, 5]) {
    for (let k = 2; k <= n; k++) {
      it(`rebuilds the exact key from every subset of at least ${String(k)} of ${String(n)} shares, and refuses every smaller one`, async () => {
        const key = AesKey.generate();
        const shares = parseAll(await splitLines(key, n, k));
        for (const subset of subsets(shares)) {
          const label = subset.map((s) => s.index).join(",");
          if (subset.length >= k) {
            const r = await combineShares(subset);
            assert.ok(sameKey(r.key, key), `subset ${label}`);
            assert.equal(r.given, subset.length);
          } else {
            const e = await rejects(combineShares(subset));
            assert.equal(e.code, "INVALID_INPUT", `subset ${label}`);
            assert.equal(
              e.message,
              `shares: got ${String(subset.length)} share(s), but this ${String(k)}-of-${String(n)} split needs at least ${String(k)}`,
            );
          }
        }
      });
    }
  }

  it("would silently return a wrong key from fewer than K shares, which is why K is checked first", async () => {
    const key = AesKey.generate();
    const [a, b] = parseAll(await splitLines(key, 3, 3));
    const wrong = await combine([a!.bytes.reveal(), b!.bytes.reveal()]);
    assert.notDeepEqual(Buffer.from(wrong), Buffer.from(key.exportBytes()));
  });

  it("makes N self-describing share lines numbered 1..N, with the key's fingerprint and one split id", async () => {
    const key = AesKey.generate();
    const set = await splitKey(key, { kid: KID, shares: 5, threshold: 3 });
    assert.equal(set.fingerprint, fingerprintKey(key));
    assert.deepEqual([set.threshold, set.total, set.kid], [3, 5, "primary"]);
    const parsed = set.shares.map((s, i) => {
      assert.match(s.revealText(), SHARE_LINE);
      return parseShare(s.revealText(), `#${String(i)}`);
    });
    assert.deepEqual(
      parsed.map((p) => p.index),
      [1, 2, 3, 4, 5],
    );
    assert.ok(parsed.every((p) => p.splitId === set.splitId && p.fingerprint === set.fingerprint && p.threshold === 3 && p.total === 5));
  });

  it("takes the split id from the injected randomness", async () => {
    const fx: Effects = { random: (n) => new Uint8Array(n).fill(0xab), now: () => new Date(0) };
    const set = await splitKey(AesKey.generate(), { kid: KID, shares: 2, threshold: 2 }, fx);
    assert.equal(set.splitId, "abababababab");
  });

  it("never prints a share by accident", async () => {
    const set = await splitKey(AesKey.generate(), { kid: KID, shares: 2, threshold: 2 });
    const share = set.shares[0]!;
    assert.equal(String(share), "********");
    assert.equal(JSON.stringify(set.shares), '["********","********"]');
    assert.doesNotMatch(inspect(set), /coffer-share-v1/);
  });

  for (const [shares, threshold, field] of [
    [1, 2, "shares"],
    [256, 2, "shares"],
    [3, 1, "threshold"],
    [3, 4, "threshold"],
    [2.5, 2, "shares"],
    [3, Number.NaN, "threshold"],
  ] as const) {
    it(`refuses ${String(threshold)}-of-${String(shares)} naming ${field}`, async () => {
      const e = await rejects(splitKey(AesKey.generate(), { kid: KID, shares, threshold }));
      assert.equal(e.code, "INVALID_INPUT");
      assert.ok(e.message.startsWith(`${field}: `), e.message);
    });
  }

  it("splits into 255 shares and rebuilds from the last K of them", async () => {
    const key = AesKey.generate();
    const shares = parseAll(await splitLines(key, 255, 4));
    assert.ok(sameKey((await combineShares(shares.slice(-4))).key, key));
  });

  it("refuses the same share given twice, naming both places", async () => {
    const lines = await splitLines(AesKey.generate(), 3, 2);
    const e = await rejects(combineShares([parseShare(lines[0]!, "a.txt"), parseShare(lines[0]!, "b.txt")]));
    assert.equal(e.code, "INVALID_INPUT");
    assert.match(e.message, /^share b\.txt: is share 1 again \(also given as a\.txt\)/);
  });

  it("refuses shares of two splits of the same key", async () => {
    const key = AesKey.generate();
    const first = await splitLines(key, 3, 2);
    const second = await splitLines(key, 3, 2);
    const e = await rejects(combineShares([parseShare(first[0]!, "first"), parseShare(second[1]!, "second")]));
    assert.equal(e.code, "INVALID_INPUT");
    assert.match(e.message, /^share second: is from a different split than share first/);
  });

  it("refuses shares of two different keys", async () => {
    const a = await splitLines(AesKey.generate(), 3, 2);
    const b = await splitLines(AesKey.generate(), 3, 2);
    const e = await rejects(combineShares([parseShare(a[0]!, "a"), parseShare(b[1]!, "b"), parseShare(a[2]!, "c")]));
    assert.equal(e.code, "INVALID_INPUT");
    assert.match(e.message, /^share b: is from a different split/);
  });

  it("refuses a share whose value was altered and its checksum recomputed, as a key mismatch", async () => {
    const lines = await splitLines(AesKey.generate(), 3, 2);
    const fields = bodyOf(lines[1]!).split(":");
    const value = Buffer.from(fields[6]!, "base64");
    value[0] = value[0]! ^ 1;
    fields[6] = value.toString("base64");
    const e = await rejects(combineShares([parseShare(lines[0]!, "a"), parseShare(resealed(fields.join(":")), "b")]));
    assert.equal(e.code, "KEY_MISMATCH");
  });

  it("refuses a share moved to another x-coordinate's number", async () => {
    const lines = await splitLines(AesKey.generate(), 3, 2);
    const renumbered = resealed(bodyOf(lines[0]!).replace(/:3-of-3:1:/, ":3-of-3:2:"));
    const e = await rejects(combineShares([parseShare(lines[0]!, "a"), parseShare(renumbered, "b"), parseShare(lines[2]!, "c")]));
    assert.equal(e.code, "INVALID_INPUT");
  });
});

describe("parseShare", () => {
  it("reports every single-character typo as a damaged share, naming the share and not its text", async () => {
    const line = (await splitLines(AesKey.generate(), 3, 2))[0]!;
    const value = line.split(":")[6]!;
    for (let i = 0; i < line.length; i++) {
      const c = line[i] === "a" ? "b" : line[i] === ":" ? "x" : "a";
      const typo = `${line.slice(0, i)}${c}${line.slice(i + 1)}`;
      const e = caught(() => parseShare(typo, "stdin line 2"), `typo at ${String(i)} was accepted`);
      assert.equal(e.code, "INVALID_INPUT", `typo at ${String(i)}`);
      assert.ok(e.message.startsWith("share stdin line 2: "), e.message);
      assert.ok(!e.message.includes(value) && !e.message.includes(typo), `typo at ${String(i)} leaks the share`);
    }
  });

  it("accepts surrounding whitespace (a trailing newline, CRLF)", async () => {
    const line = (await splitLines(AesKey.generate(), 2, 2))[1]!;
    assert.equal(parseShare(`  ${line}\r\n`, "f").index, 2);
  });

  const goodBody = "coffer-share-v1:primary:0123456789abcdef:0123456789ab:2-of-3:1:" + Buffer.alloc(33, 7).toString("base64");
  const hostile: readonly (readonly [string, string])[] = [
    ["an empty line", ""],
    ["another format version", resealed(goodBody.replace("coffer-share-v1", "coffer-share-v2"))],
    ["a missing field", resealed(goodBody.replace(":0123456789ab:", ":"))],
    ["an extra field", resealed(`${goodBody}:extra`)],
    ["no checksum", goodBody],
    ["a non-hex checksum", `${goodBody}:zzzzzzzz`],
    ["a checksum of the wrong length", `${resealed(goodBody)}0`],
    ["an invalid kid", resealed(goodBody.replace(":primary:", ":-bad:"))],
    ["a short fingerprint", resealed(goodBody.replace("0123456789abcdef", "0123456789abcde"))],
    ["an uppercase fingerprint", resealed(goodBody.replace("0123456789abcdef", "0123456789ABCDEF"))],
    ["a bad split id", resealed(goodBody.replace(":0123456789ab:", ":0123456789az:"))],
    ["K = 1", resealed(goodBody.replace("2-of-3", "1-of-3"))],
    ["K > N", resealed(goodBody.replace("2-of-3", "4-of-3"))],
    ["N > 255", resealed(goodBody.replace("2-of-3", "2-of-256"))],
    ["a leading zero", resealed(goodBody.replace("2-of-3", "02-of-3"))],
    ["share number 0", resealed(goodBody.replace("2-of-3:1:", "2-of-3:0:"))],
    ["a share number above N", resealed(goodBody.replace("2-of-3:1:", "2-of-3:4:"))],
    [
      "a share value of 32 bytes",
      resealed(goodBody.replace(Buffer.alloc(33, 7).toString("base64"), Buffer.alloc(32, 7).toString("base64"))),
    ],
    ["a share value at x = 0", resealed(goodBody.replace(Buffer.alloc(33, 7).toString("base64"), Buffer.alloc(33, 0).toString("base64")))],
    ["base64url in the value", resealed(goodBody.replace(/.$/, "-"))],
    ["a space inside", resealed(goodBody.replace(":1:", ": 1:"))],
  ];
  it("accepts the well-formed share the hostile cases are made from", () => {
    assert.equal(parseShare(resealed(goodBody), "ok").index, 1);
  });
  for (const [what, text] of hostile) {
    it(`rejects a share with ${what}`, () => {
      const e = caught(() => parseShare(text, "f.txt"));
      assert.equal(e.code, "INVALID_INPUT");
      assert.ok(e.message.startsWith("share f.txt: "), e.message);
    });
  }
});
