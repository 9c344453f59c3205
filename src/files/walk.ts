import { createHash } from "node:crypto";
import { CofferError } from "../core/errors/index.ts";
import { decryptValue, encryptValue, isEncValue, type Plain } from "./enc-value.ts";
import type { Leaf } from "./leaf.ts";
import type { EncryptionRule, Metadata } from "./metadata.ts";

/** sha256("sops"): the MAC's first input when `mac_only_encrypted` is set (FORMAT.md §5). */
const MAC_ONLY_INIT = createHash("sha256").update("sops").digest();

export type WalkOptions = {
  readonly rule: EncryptionRule;
  readonly commentRule?: Metadata["commentRule"];
  readonly macOnlyEncrypted: boolean;
  /**
   * Decrypt fills it, encrypt reads it: (AAD, type, plaintext) → the ENC[] string it came from,
   * so a value that did not change keeps its ciphertext byte for byte under the same data key
   * (sops's IV stash, FORMAT.md §2). Only valid with the data key that produced the strings.
   */
  readonly stash?: Map<string, string>;
};

export function aadOf(path: readonly string[]): string {
  return `${path.join(":")}:`;
}

function pathLabel(leaf: Leaf): string {
  return leaf.path.length === 0 ? "(top level)" : leaf.path.join(".");
}

function compile(rule: EncryptionRule): (component: string) => boolean {
  switch (rule.kind) {
    case "unencrypted_suffix":
    case "encrypted_suffix":
      return (c) => c.endsWith(rule.value);
    case "unencrypted_regex":
    case "encrypted_regex":
      return goRegex(rule.value);
  }
}

/** Go RE2 patterns as JS: unanchored, with a leading `(?i)`-style flag group turned into JS flags. */
export function goRegex(source: string): (text: string) => boolean {
  const m = /^\(\?([imsU]+)\)/.exec(source);
  const flags = m === null ? "" : [...new Set((m[1] ?? "").replace("U", ""))].join("");
  let re: RegExp;
  try {
    re = new RegExp(m === null ? source : source.slice(m[0].length), flags);
  } catch {
    throw new CofferError("INVALID_INPUT", `regex: '${source}' is not a valid regular expression`, { field: "regex" });
  }
  return (t) => re.test(t);
}

/** sops's `shouldBeEncrypted`: every component of the path is looked at (FORMAT.md §4). */
export function encryptionFilter(rule: EncryptionRule): (path: readonly string[]) => boolean {
  const matches = compile(rule);
  const encryptOnMatch = rule.kind === "encrypted_suffix" || rule.kind === "encrypted_regex";
  return (path) => (path.some(matches) ? encryptOnMatch : !encryptOnMatch);
}

const commentText = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Which leaves are encrypted, in document order. Without a comment regex: the key-path rule.
 * With one, sops 3.13's marker semantics (observed with the real binary): a comment matching
 * the regex is a marker and stays plaintext; it flips the leaves after it, up to and including
 * the next value. `encrypted_comment_regex`: only what follows a marker is encrypted;
 * `unencrypted_comment_regex`: everything except what follows a marker.
 */
function selector(opts: WalkOptions): (leaf: Leaf, plain: Plain | null) => boolean {
  const rule = opts.commentRule;
  if (rule === undefined) {
    const selected = encryptionFilter(opts.rule);
    return (leaf) => selected(leaf.path);
  }
  const matches = goRegex(rule.value);
  const encryptMarked = rule.kind === "encrypted_comment_regex";
  let marked = false;
  return (leaf, plain) => {
    if (leaf.kind === "comment") {
      const text = plain === null ? (leaf.stored() ?? "") : commentText.decode(plain.bytes);
      if (!isEncValue(text) && matches(text)) {
        marked = true;
        return false;
      }
      return encryptMarked ? marked : !marked;
    }
    const out = encryptMarked ? marked : !marked;
    marked = false;
    return out;
  };
}

function stashKey(aad: string, p: Plain): string {
  return `${aad}\u0000${p.type}\u0000${Buffer.from(p.bytes).toString("base64")}`;
}

/**
 * Encrypts every selected leaf in place and returns the MAC (uppercase hex SHA-512 over the
 * plaintext of the leaves, FORMAT.md §5). Comments are encrypted but not MAC'd.
 */
export function encryptLeaves(
  leaves: readonly Leaf[],
  dataKey: Uint8Array,
  opts: WalkOptions,
): { mac: string; encrypted: number; reused: number; fresh: number } {
  let encrypted = 0;
  let reusedCount = 0;
  const h = createHash("sha512");
  if (opts.macOnlyEncrypted) h.update(MAC_ONLY_INIT);
  const select = selector(opts);
  let fresh = 0;
  for (const leaf of leaves) {
    const plain = leaf.read();
    const encrypt = select(leaf, plain);
    if (plain === null) continue;
    if (leaf.kind === "value" && (encrypt || !opts.macOnlyEncrypted)) h.update(plain.bytes);
    if (!encrypt) continue;
    if (leaf.kind === "comment" && plain.bytes.byteLength === 0) continue;
    const aad = aadOf(leaf.path);
    const reused = opts.stash?.get(stashKey(aad, plain));
    leaf.writeEncrypted(reused ?? encryptValue(dataKey, plain, aad));
    const counts = leaf.kind === "comment" || plain.bytes.byteLength > 0;
    if (leaf.kind === "value" && plain.bytes.byteLength > 0) encrypted++;
    if (counts && reused !== undefined) reusedCount++;
    else if (counts) fresh++;
  }
  return { mac: h.digest("hex").toUpperCase(), encrypted, reused: reusedCount, fresh };
}

/**
 * Decrypts every selected leaf in place and returns the recomputed MAC. A comment that does not
 * decrypt is kept as it is (sops: older files carry plaintext comments).
 * @throws CofferError CIPHERTEXT_MALFORMED / DECRYPT_FAILED naming the key path.
 */
export function decryptLeaves(leaves: readonly Leaf[], dataKey: Uint8Array, opts: WalkOptions): string {
  const h = createHash("sha512");
  if (opts.macOnlyEncrypted) h.update(MAC_ONLY_INIT);
  const select = selector(opts);
  for (const leaf of leaves) {
    const encrypted = select(leaf, leaf.kind === "comment" ? null : leaf.read());
    if (leaf.kind === "comment") {
      const text = leaf.stored();
      if (!encrypted || text === null || !isEncValue(text)) continue;
      try {
        const plain = decryptValue(dataKey, text, aadOf(leaf.path), pathLabel(leaf));
        opts.stash?.set(stashKey(aadOf(leaf.path), plain), text);
        leaf.writePlain(plain);
      } catch {
        // kept as is, like sops
      }
      continue;
    }
    if (!encrypted) {
      const plain = leaf.read();
      if (plain !== null && !opts.macOnlyEncrypted) h.update(plain.bytes);
      continue;
    }
    if (leaf.read() === null) continue;
    const text = leaf.stored();
    if (text === null)
      throw new CofferError("CIPHERTEXT_MALFORMED", `${pathLabel(leaf)}: expected an ENC[…] value, found a plaintext value`, {
        path: pathLabel(leaf),
      });
    const aad = aadOf(leaf.path);
    const plain = decryptValue(dataKey, text, aad, pathLabel(leaf));
    if (text !== "") opts.stash?.set(stashKey(aad, plain), text);
    h.update(plain.bytes);
    leaf.writePlain(plain);
  }
  return h.digest("hex").toUpperCase();
}
