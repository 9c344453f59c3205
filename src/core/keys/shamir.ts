import { createHash } from "node:crypto";
import { combine, split } from "shamir-secret-sharing";
import { AesKey, encodeBase64, fingerprintKey, KEY_BYTES, systemEffects, toHex, type Effects } from "../crypto/index.ts";
import { CofferError } from "../errors/index.ts";
import { Kid } from "../model/index.ts";
import { Secret } from "../secret/index.ts";

/**
 * Shamir splitting of a 32-byte key, using `shamir-secret-sharing` (privy-io, audited by Cure53
 * and Zellic; GF(2^8), one random polynomial per byte, x-coordinate as the share's last byte).
 * Nothing here does field arithmetic.
 *
 * One share is one line of text:
 *
 *   coffer-share-v1:<kid>:<fingerprint>:<split id>:<K>-of-<N>:<index>:<base64 share>:<checksum>
 *
 * `fingerprint` is the key's keyed fingerprint (`fingerprintKey`), `split id` 6 random bytes in
 * hex naming this split (so shares of two splits are never mixed), `index` the share's number
 * 1..N for its custodian, and `checksum` the first 8 hex digits of SHA-256 over everything before
 * it (the final `:` excluded): it catches a mistyped share, it protects nothing against an
 * attacker (the recombined key's fingerprint does that).
 */
export const SHARE_FORMAT = "coffer-share-v1";
export const MIN_SHARES = 2;
export const MAX_SHARES = 255;

const SHARE_BYTES = KEY_BYTES + 1;
const FIELDS = 8;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX12 = /^[0-9a-f]{12}$/;
const HEX8 = /^[0-9a-f]{8}$/;
const COUNT = /^[1-9][0-9]{0,2}$/;
const BASE64 = /^[A-Za-z0-9+/]{44}$/;

/** The shares of one split; each line is a `Secret`, so it cannot be logged by accident. */
export type KeyShareSet = {
  readonly kid: Kid;
  readonly fingerprint: string;
  readonly splitId: string;
  readonly threshold: number;
  readonly total: number;
  readonly shares: readonly Secret[];
};

/** One parsed share. `source` says where it came from (a file, a line of stdin), for messages. */
export type KeyShare = {
  readonly source: string;
  readonly kid: Kid;
  readonly fingerprint: string;
  readonly splitId: string;
  readonly threshold: number;
  readonly total: number;
  readonly index: number;
  /** The share's x-coordinate (its last byte): not secret, never 0. */
  readonly x: number;
  readonly bytes: Secret;
};

/** A key rebuilt from shares and checked against the fingerprint they record. */
export type RecombinedKey = {
  readonly key: AesKey;
  readonly kid: Kid;
  readonly fingerprint: string;
  readonly threshold: number;
  readonly total: number;
  /** How many distinct shares were combined. */
  readonly given: number;
};

function checksum(body: string): string {
  return createHash("sha256").update(body, "utf8").digest("hex").slice(0, 8);
}

function invalid(field: string, message: string): CofferError {
  return new CofferError("INVALID_INPUT", `${field}: ${message}`, { field });
}

function assertCounts(total: number, threshold: number): void {
  if (!Number.isInteger(total) || total < MIN_SHARES || total > MAX_SHARES)
    throw invalid("shares", `must be a whole number from ${MIN_SHARES} to ${MAX_SHARES}, got ${String(total)}`);
  if (!Number.isInteger(threshold) || threshold < MIN_SHARES || threshold > MAX_SHARES)
    throw invalid("threshold", `must be a whole number from ${MIN_SHARES} to ${MAX_SHARES}, got ${String(threshold)}`);
  if (threshold > total)
    throw invalid("threshold", `must not exceed the number of shares (${String(threshold)} > ${String(total)}): K shares out of N`);
}

/**
 * Splits `key` into `shares` lines, any `threshold` of which rebuild it.
 * @throws CofferError INVALID_INPUT unless 2 ≤ threshold ≤ shares ≤ 255.
 */
export async function splitKey(
  key: AesKey,
  opts: { readonly kid: Kid; readonly shares: number; readonly threshold: number },
  fx: Effects = systemEffects,
): Promise<KeyShareSet> {
  assertCounts(opts.shares, opts.threshold);
  const fingerprint = fingerprintKey(key);
  const splitId = toHex(fx.random(6));
  const bytes = key.exportBytes();
  let parts: Uint8Array[] = [];
  try {
    parts = await split(bytes, opts.shares, opts.threshold);
    const head = `${SHARE_FORMAT}:${opts.kid}:${fingerprint}:${splitId}:${String(opts.threshold)}-of-${String(opts.shares)}`;
    const shares = parts.map((part, i) => {
      const body = `${head}:${String(i + 1)}:${encodeBase64(part)}`;
      return Secret.fromString(`${body}:${checksum(body)}`);
    });
    return { kid: opts.kid, fingerprint, splitId, threshold: opts.threshold, total: opts.shares, shares };
  } finally {
    bytes.fill(0);
    for (const p of parts) p.fill(0);
  }
}

/**
 * Parses one share line strictly: the format tag first, then the checksum (so a typo anywhere is
 * reported as a typo), then every field. Messages name `source`, never the share's text.
 * @throws CofferError INVALID_INPUT naming `source` and what is wrong.
 */
export function parseShare(text: string, source: string): KeyShare {
  const line = text.trim();
  const bad = (what: string): CofferError => invalid(`share ${source}`, what);
  if (!line.startsWith(`${SHARE_FORMAT}:`)) throw bad(`is not a Coffer key share (expected a line starting with ${SHARE_FORMAT}:)`);
  const fields = line.split(":");
  if (fields.length !== FIELDS) throw bad(`has ${String(fields.length)} fields, expected ${String(FIELDS)}; it is damaged or cut short`);
  const [, kidText, fingerprint, splitId, counts, indexText, shareText, sum] = fields;
  const body = line.slice(0, line.lastIndexOf(":"));
  if (sum === undefined || !HEX8.test(sum) || sum !== checksum(body)) throw bad("is mistyped or damaged: its checksum does not match");
  const kid = Kid.safeParse(kidText);
  if (!kid.success) throw bad("names an invalid kid");
  if (fingerprint === undefined || !HEX16.test(fingerprint)) throw bad("has an invalid key fingerprint (expected 16 hex digits)");
  if (splitId === undefined || !HEX12.test(splitId)) throw bad("has an invalid split id (expected 12 hex digits)");
  const m = /^([0-9]+)-of-([0-9]+)$/.exec(counts ?? "");
  const [threshold, total] = [m?.[1] ?? "", m?.[2] ?? ""];
  if (!COUNT.test(threshold) || !COUNT.test(total)) throw bad("has an invalid K-of-N field");
  const [k, n] = [Number(threshold), Number(total)];
  if (k < MIN_SHARES || k > n || n > MAX_SHARES) throw bad(`has an impossible threshold ${String(k)}-of-${String(n)}`);
  if (indexText === undefined || !COUNT.test(indexText) || Number(indexText) > n)
    throw bad(`has an invalid share number (expected 1 to ${String(n)})`);
  if (shareText === undefined || !BASE64.test(shareText))
    throw bad(`has an invalid share value (expected ${String(SHARE_BYTES)} bytes of base64)`);
  const decoded = Buffer.from(shareText, "base64"); // may sit in Buffer's shared pool: copy, then wipe
  const bytes = new Uint8Array(decoded);
  decoded.fill(0);
  const x = bytes[SHARE_BYTES - 1] ?? 0;
  // x = 0 would be the secret itself; the library never makes such a share.
  if (bytes.byteLength !== SHARE_BYTES || x === 0) {
    bytes.fill(0);
    throw bad("has an invalid share value");
  }
  const index = Number(indexText);
  return { source, kid: kid.data, fingerprint, splitId, threshold: k, total: n, index, x, bytes: Secret.adopt(bytes) };
}

function describeSplit(s: KeyShare): string {
  return `kid ${s.kid}, fingerprint ${s.fingerprint}, ${String(s.threshold)}-of-${String(s.total)}, split ${s.splitId}`;
}

/** Every share is from the first one's split, and none is given twice. @throws CofferError INVALID_INPUT. */
function assertOneSplit(shares: readonly KeyShare[]): void {
  const first = shares[0];
  if (first === undefined) throw invalid("shares", "none given");
  const byIndex = new Map<number, KeyShare>();
  const byX = new Map<number, KeyShare>();
  for (const s of shares) {
    if (describeSplit(s) !== describeSplit(first))
      throw invalid(
        `share ${s.source}`,
        `is from a different split than share ${first.source} (${describeSplit(s)} vs ${describeSplit(first)}); shares of different splits cannot be combined`,
      );
    const twin = byIndex.get(s.index);
    if (twin !== undefined)
      throw invalid(`share ${s.source}`, `is share ${String(s.index)} again (also given as ${twin.source}); give each share once`);
    const clash = byX.get(s.x);
    if (clash !== undefined) throw invalid(`share ${s.source}`, `duplicates share ${clash.source} under another number; it was altered`);
    byIndex.set(s.index, s);
    byX.set(s.x, s);
  }
}

/**
 * Rebuilds the key from shares of one split and checks that its fingerprint is the one they
 * record. Fewer than K shares are refused before any arithmetic: Shamir would return a wrong
 * key, not an error.
 * @throws CofferError INVALID_INPUT (no, mixed, duplicate or too few shares), KEY_MISMATCH
 * when the result's fingerprint differs (a share was altered and its checksum recomputed).
 */
export async function combineShares(shares: readonly KeyShare[]): Promise<RecombinedKey> {
  assertOneSplit(shares);
  const first = shares[0];
  if (first === undefined) throw invalid("shares", "none given");
  if (shares.length < first.threshold)
    throw invalid(
      "shares",
      `got ${String(shares.length)} share(s), but this ${String(first.threshold)}-of-${String(first.total)} split needs at least ${String(first.threshold)}`,
    );
  const parts = shares.map((s) => s.bytes.reveal());
  let bytes: Uint8Array = new Uint8Array(0);
  try {
    bytes = await combine(parts);
    const key = AesKey.fromBytes(bytes, "recombined key");
    const fingerprint = fingerprintKey(key);
    if (fingerprint !== first.fingerprint)
      throw new CofferError(
        "KEY_MISMATCH",
        `the shares recombine to a key with fingerprint ${fingerprint}, not the ${first.fingerprint} they record for kid '${first.kid}'; at least one share was altered`,
        { kid: first.kid },
      );
    return { key, kid: first.kid, fingerprint, threshold: first.threshold, total: first.total, given: shares.length };
  } finally {
    bytes.fill(0);
    for (const p of parts) p.fill(0);
  }
}
