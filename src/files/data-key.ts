import { armor, Decrypter, Encrypter } from "age-encryption";
import { combine, split } from "shamir-secret-sharing";
import { CofferError } from "../core/errors/index.ts";
import type { KeyGroup, Metadata } from "./metadata.ts";

/**
 * The data key and its age wrapping (FORMAT.md §6, §7): each recipient gets its own
 * ASCII-armored age file whose payload is the 32-byte data key, or, with several key groups,
 * the group's 33-byte Shamir share (`shamir-secret-sharing`, Vault's GF(2^8) layout: y bytes
 * then the x byte, as sops uses). age itself is the `age-encryption` package, X25519 and the
 * post-quantum hybrid (`age1pq1…`) recipients alike.
 */
export const DATA_KEY_BYTES = 32;
const AGE_RECIPIENT = /^age1(?:pq1)?[02-9ac-hj-np-z]+$/;

/** @throws CofferError INVALID_INPUT naming the recipient's field when it is not an age recipient Coffer can use. */
export function checkRecipient(recipient: string, field: string): string {
  const r = recipient.trim();
  if (!AGE_RECIPIENT.test(r))
    throw new CofferError("INVALID_INPUT", `${field}: '${r.slice(0, 80)}' is not an age recipient (age1… or age1pq1…)`, { field });
  try {
    new Encrypter().addRecipient(r);
  } catch {
    throw new CofferError("INVALID_INPUT", `${field}: '${r.slice(0, 80)}' is not a valid age recipient (bad checksum or length)`, {
      field,
    });
  }
  return r;
}

async function wrapOne(payload: Uint8Array, recipient: string): Promise<string> {
  const e = new Encrypter();
  e.addRecipient(recipient);
  return armor.encode(await e.encrypt(payload));
}

/** Wraps the data key for every group: the whole key for one group, a Shamir share per group otherwise. */
export async function wrapDataKey(dataKey: Uint8Array, groups: readonly (readonly string[])[], threshold: number): Promise<KeyGroup[]> {
  if (groups.length === 0 || groups.some((g) => g.length === 0))
    throw new CofferError("INVALID_INPUT", "recipients: no age recipient given (use --age, or a .sops.yaml creation rule)", {
      field: "recipients",
    });
  let payloads: Uint8Array[] = [dataKey];
  if (groups.length > 1) {
    const k = threshold === 0 ? groups.length : threshold;
    if (k < 2 || k > groups.length)
      throw new CofferError(
        "INVALID_INPUT",
        `shamir_threshold: must be between 2 and ${String(groups.length)} (the number of key groups)`,
        {
          field: "shamir_threshold",
        },
      );
    // The library insists on a plain Uint8Array (a Buffer is refused).
    payloads = await split(Uint8Array.from(dataKey), groups.length, k);
  }
  return Promise.all(
    groups.map(async (g, i) => ({
      age: await Promise.all([...new Set(g)].map(async (r) => ({ recipient: r, enc: await wrapOne(payloads[i] ?? dataKey, r) }))),
      others: {},
    })),
  );
}

async function openGroup(group: KeyGroup, decrypter: Decrypter): Promise<Uint8Array | null> {
  for (const entry of group.age) {
    let file: Uint8Array;
    try {
      file = armor.decode(entry.enc);
    } catch {
      continue;
    }
    try {
      return await decrypter.decrypt(file);
    } catch {
      // not one of our identities (or a damaged stanza): try the next entry, as sops does
    }
  }
  return null;
}

/**
 * Opens the data key with any of the identities (`AGE-SECRET-KEY-1…`, `AGE-SECRET-KEY-PQ-1…`).
 * @throws CofferError KEY_NOT_FOUND listing the file's recipients when no identity opens enough
 * groups; CIPHERTEXT_MALFORMED when the payload has the wrong length.
 */
export async function unwrapDataKey(meta: Metadata, identities: readonly string[]): Promise<Uint8Array> {
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  const parts: Uint8Array[] = [];
  const need = meta.keyGroups.length === 1 ? 1 : meta.shamirThreshold === 0 ? meta.keyGroups.length : meta.shamirThreshold;
  for (const g of meta.keyGroups) {
    if (parts.length >= need) break;
    const p = identities.length === 0 ? null : await openGroup(g, d);
    if (p !== null) parts.push(p);
  }
  if (parts.length < need) {
    const recipients = meta.keyGroups.flatMap((g) => g.age.map((e) => e.recipient.slice(0, 72)));
    const what =
      identities.length === 0 ? "no age identity was given" : `none of the ${String(identities.length)} age identities given opens it`;
    throw new CofferError(
      "KEY_NOT_FOUND",
      `cannot open the data key: ${what} (set SOPS_AGE_KEY_FILE, SOPS_AGE_KEY or --identity); the file is encrypted to ${recipients.join(", ") || "no age recipient"}`,
      { recipients },
    );
  }
  const key = parts.length === 1 && meta.keyGroups.length === 1 ? parts[0] : await combineShares(parts);
  if (key?.byteLength !== DATA_KEY_BYTES)
    throw new CofferError("CIPHERTEXT_MALFORMED", "sops.age: the wrapped data key is not 32 bytes", { field: "sops.age" });
  return key;
}

async function combineShares(parts: readonly Uint8Array[]): Promise<Uint8Array> {
  if (parts.some((p) => p.byteLength !== DATA_KEY_BYTES + 1))
    throw new CofferError("CIPHERTEXT_MALFORMED", "sops.key_groups: a Shamir share is not 33 bytes", { field: "sops.key_groups" });
  try {
    return await combine(parts.map((p) => Uint8Array.from(p)));
  } catch {
    throw new CofferError("CIPHERTEXT_MALFORMED", "sops.key_groups: the Shamir shares do not combine", { field: "sops.key_groups" });
  }
}
