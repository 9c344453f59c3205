import { armor, Decrypter, Encrypter } from "age-encryption";
import { combine, split } from "shamir-secret-sharing";
import { CofferError } from "../core/errors/index.ts";
import type { KeyServices } from "./master-keys.ts";
import {
  formatLastModified,
  keyLabel,
  refOf,
  sameKey,
  type KeyGroup,
  type KeyRef,
  type KeyType,
  type MasterKey,
  type Metadata,
} from "./metadata.ts";

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

export type WrapContext = {
  /** Calls cloud key services; `null` when none may be used (age only). */
  readonly services: KeyServices | null;
  /** Leave out master keys that cannot be reached (each reported through `onSkip`) instead of failing. */
  readonly skipUnavailable: boolean;
  readonly onSkip?: (label: string, why: string) => void;
  /** Stanzas already holding this payload (the same data key, one group): kept, not rewrapped. */
  readonly keep?: readonly MasterKey[];
  readonly now?: Date;
};

function noRecipient(): CofferError {
  return new CofferError(
    "INVALID_INPUT",
    "recipients: no master key given (use --age, --kms, --gcp-kms, --azure-kv, --hc-vault-transit or a .sops.yaml creation rule)",
    { field: "recipients" },
  );
}

async function wrapFor(ref: KeyRef, payload: Uint8Array, ctx: WrapContext, createdAt: string): Promise<MasterKey | null> {
  const kept = ctx.keep?.find((k) => sameKey(refOf(k), ref) && k.enc !== "");
  if (kept !== undefined) return kept;
  if (ref.type === "age") return { ...ref, enc: await wrapOne(payload, ref.recipient), createdAt: "" };
  try {
    if (ctx.services === null) throw new CofferError("KEY_UNAVAILABLE", `cannot wrap the data key with ${keyLabel(ref)}: no key service`);
    const w = await ctx.services.wrap(ref, payload);
    return { ...w.ref, enc: w.enc, createdAt };
  } catch (e) {
    if (!ctx.skipUnavailable || !(e instanceof CofferError)) throw e;
    ctx.onSkip?.(keyLabel(ref), e.message);
    return null;
  }
}

/**
 * Wraps the data key for every group: the whole key for one group, a Shamir share per group
 * otherwise. Every master key is wrapped or the call fails naming it (`skipUnavailable` aside).
 */
export async function wrapDataKey(
  dataKey: Uint8Array,
  groups: readonly (readonly KeyRef[])[],
  threshold: number,
  ctx: WrapContext = { services: null, skipUnavailable: false },
): Promise<KeyGroup[]> {
  if (groups.length === 0 || groups.some((g) => g.length === 0)) throw noRecipient();
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
  const createdAt = formatLastModified(ctx.now ?? new Date());
  const single = groups.length === 1 ? ctx : { ...ctx, keep: [] };
  const out = await Promise.all(
    groups.map(async (g, i) => {
      const unique = g.filter((r, j) => g.findIndex((x) => sameKey(x, r)) === j);
      const keys = await Promise.all(unique.map((r) => wrapFor(r, payloads[i] ?? dataKey, single, createdAt)));
      return { keys: keys.filter((k): k is MasterKey => k !== null) };
    }),
  );
  if (out.some((g) => g.keys.length === 0))
    throw new CofferError(
      "KEY_UNAVAILABLE",
      "recipients: every master key of a key group was skipped as unavailable; nothing was written",
      {
        field: "recipients",
      },
    );
  return out;
}

async function openAge(group: KeyGroup, decrypter: Decrypter): Promise<Uint8Array | null> {
  for (const entry of group.keys) {
    if (entry.type !== "age") continue;
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

const CLOUD: readonly KeyType[] = ["kms", "gcp_kms", "azure_kv", "hc_vault"];

async function openCloud(group: KeyGroup, services: KeyServices, failures: string[]): Promise<Uint8Array | null> {
  for (const entry of group.keys) {
    if (!CLOUD.includes(entry.type)) continue;
    try {
      return await services.unwrap(entry);
    } catch (e) {
      failures.push(e instanceof CofferError ? e.message : `${keyLabel(entry)}: failed`);
    }
  }
  return null;
}

/**
 * Opens the data key with any master key: age identities first (`AGE-SECRET-KEY-1…`,
 * `AGE-SECRET-KEY-PQ-1…`, local and cheap), then the file's KMS, GCP KMS, Azure Key Vault and
 * Vault Transit stanzas through `services`, in the file's order.
 * @throws CofferError KEY_NOT_FOUND listing the file's master keys and why each cloud key failed
 * when not enough groups open; CIPHERTEXT_MALFORMED when the payload has the wrong length.
 */
export async function unwrapDataKey(
  meta: Metadata,
  identities: readonly string[],
  services: KeyServices | null = null,
): Promise<Uint8Array> {
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  const parts: Uint8Array[] = [];
  const failures: string[] = [];
  const need = meta.keyGroups.length === 1 ? 1 : meta.shamirThreshold === 0 ? meta.keyGroups.length : meta.shamirThreshold;
  for (const g of meta.keyGroups) {
    if (parts.length >= need) break;
    let p = identities.length === 0 ? null : await openAge(g, d);
    if (p === null && services !== null) p = await openCloud(g, services, failures);
    if (p !== null) parts.push(p);
  }
  if (parts.length < need) {
    const recipients = meta.keyGroups.flatMap((g) => g.keys.map((k) => keyLabel(k).slice(0, 120)));
    const what =
      identities.length === 0 ? "no age identity was given" : `none of the ${String(identities.length)} age identities given opens it`;
    const cloud = failures.length === 0 ? "" : `; ${failures.join("; ")}`;
    throw new CofferError(
      "KEY_NOT_FOUND",
      `cannot open the data key: ${what} (set SOPS_AGE_KEY_FILE, SOPS_AGE_KEY or --identity)${cloud}; the file's master keys: ${recipients.join(", ") || "none"}`,
      { recipients },
    );
  }
  const key = parts.length === 1 && meta.keyGroups.length === 1 ? parts[0] : await combineShares(parts);
  if (key?.byteLength !== DATA_KEY_BYTES)
    throw new CofferError("CIPHERTEXT_MALFORMED", "sops: the wrapped data key is not 32 bytes", { field: "sops" });
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
