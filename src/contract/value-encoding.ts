import { invalidInput } from "../core/errors/index.ts";

/**
 * The one rule for a secret's value on the wire and in JSON output: `value` holds the text when
 * the bytes are UTF-8 (exactly: decoding and encoding again gives the same bytes), otherwise
 * `value` is null and `valueBase64` holds standard, padded base64. Used by the server, the SDK,
 * the CLI's remote backend and `secrets get --json`. Browser-safe (no Buffer).
 */
export type EncodedValue = { readonly value: string | null; readonly valueBase64?: string | undefined };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const CHUNK = 0x8000;
/** Throws on bytes that are not UTF-8; keeps a byte-order mark (it never reaches it: see {@link encodeValue}). */
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The wire form of a value's bytes (text when they are UTF-8, else base64). */
export function encodeValue(bytes: Uint8Array): EncodedValue {
  // The round trip, without building it: a strict decoder accepts exactly the bytes that decode
  // and encode back to themselves, except a leading byte-order mark, which a round trip through
  // a default decoder drops (so such bytes go as base64). One decoder for every call: every
  // reveal runs this, and making a decoder and an encoder cost more than the check.
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { value: null, valueBase64: toBase64(bytes) };
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch {
    return { value: null, valueBase64: toBase64(bytes) };
  }
  return { value: text };
}

/** The bytes of a value in wire form (a response: `value`, or `valueBase64` when `value` is null). */
export function decodeValue(v: EncodedValue): Uint8Array {
  return v.value !== null ? new TextEncoder().encode(v.value) : fromBase64(v.valueBase64 ?? "");
}

/**
 * The bytes of a value a request gives: exactly one of `value` (text) and `valueBase64`.
 * @throws CofferError INVALID_INPUT naming `value` or `valueBase64` (under `prefix.`, when given).
 */
export function parseValueInput(
  b: { readonly value?: string | undefined; readonly valueBase64?: string | undefined },
  prefix?: string,
): Uint8Array {
  const field = (name: string): string => (prefix === undefined ? name : `${prefix}.${name}`);
  if ((b.value === undefined) === (b.valueBase64 === undefined))
    throw invalidInput(field("value"), "give exactly one of value, valueBase64");
  if (b.value !== undefined) return new TextEncoder().encode(b.value);
  const text = b.valueBase64 ?? "";
  if (!BASE64.test(text) || text.length % 4 !== 0) throw invalidInput(field("valueBase64"), "must be base64");
  return fromBase64(text);
}

function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += CHUNK) bin += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(bin);
}

function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
