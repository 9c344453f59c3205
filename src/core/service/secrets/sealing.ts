import { openVersion, parseAlg, sealVersion, type AesKey, type Effects } from "../../crypto/index.ts";
import { CofferError } from "../../errors/index.ts";
import type { Owner } from "../../model/index.ts";
import type { Secret } from "../../secret/index.ts";
import type { secretRepo } from "../../store/index.ts";

export const TAG_BYTES = 16;

type Place = { readonly owner: Owner; readonly name: string; readonly version: number; readonly scopeKeyId: string };

function aadFor(p: Place) {
  return {
    value: { kind: "value", owner: p.owner, name: p.name, version: p.version },
    dek: { kind: "dek", owner: p.owner, name: p.name, version: p.version, scopeKeyId: p.scopeKeyId },
  } as const;
}

/** The columns that hold one sealed version (tag appended to the ciphertext). */
export type SealedColumns = Pick<secretRepo.VersionRow, "alg" | "nonce" | "ciphertext" | "wrapped_dek" | "scope_key_id">;

export function sealToColumns(scopeKey: AesKey, value: Secret, place: Place, fx: Effects): SealedColumns {
  const s = sealVersion(scopeKey, value, aadFor(place), fx);
  const ct = new Uint8Array(s.value.ciphertext.byteLength + TAG_BYTES);
  ct.set(s.value.ciphertext);
  ct.set(s.value.tag, s.value.ciphertext.byteLength);
  return { alg: s.value.alg, nonce: s.value.nonce, ciphertext: ct, wrapped_dek: s.wrappedDek, scope_key_id: place.scopeKeyId };
}

/**
 * @throws CofferError UNSUPPORTED_ALGORITHM, CIPHERTEXT_MALFORMED, DECRYPT_FAILED (naming
 * owner, key name and version) — never garbage plaintext.
 */
export function openColumns(scopeKey: AesKey, row: SealedColumns, place: Omit<Place, "scopeKeyId">): Secret {
  const alg = parseAlg(row.alg);
  if (row.ciphertext.byteLength < TAG_BYTES)
    throw new CofferError("CIPHERTEXT_MALFORMED", `stored ciphertext of ${place.name} v${String(place.version)} is shorter than its tag`);
  const ciphertext = row.ciphertext.subarray(0, row.ciphertext.byteLength - TAG_BYTES);
  const tag = row.ciphertext.subarray(row.ciphertext.byteLength - TAG_BYTES);
  return openVersion(
    scopeKey,
    { value: { alg, nonce: row.nonce, ciphertext, tag }, wrappedDek: row.wrapped_dek },
    aadFor({ ...place, scopeKeyId: row.scope_key_id }),
  );
}
