import { z } from "zod";
import { KeyPrefix, Meta, parseKeyName, parseOwner, parseWith, MAX_VALUE_BYTES, type KeyName, type Owner } from "../model/index.ts";
import { invalidInput } from "../errors/index.ts";
import type { Secret } from "../secret/index.ts";

/** Raw input, as adapters receive it; parsed once here, at the service boundary. */
export type RefInput = { readonly owner: string; readonly key: string };
export type SecretRef = { readonly owner: Owner; readonly name: KeyName };

export const Version = z
  .number()
  .int("must be a whole number")
  .min(1, "must be 1 or more")
  .max(2 ** 31 - 1, "is too large");
export const ExpectedVersion = z
  .number()
  .int("must be a whole number")
  .min(0, "must be 0 (must not exist) or more")
  .max(2 ** 31 - 1, "is too large");
export const Reason = z.string().trim().min(1, "is required: say why the plaintext is needed").max(500, "must be at most 500 chars");
export const Limit = z.number().int().min(1, "must be 1 or more").max(1000, "must be at most 1000");

export function parseRef(input: RefInput): SecretRef {
  return { owner: parseOwner(input.owner), name: parseKeyName(input.key) };
}

export function parseMeta(meta: unknown): Readonly<Record<string, string>> {
  return parseWith(Meta, meta, "meta");
}

export function parsePrefix(prefix: string | undefined): string {
  return parseWith(KeyPrefix, prefix ?? "", "prefix");
}

export function checkValueSize(value: Secret): void {
  if (value.byteLength > MAX_VALUE_BYTES) throw invalidInput("value", `must be at most ${String(MAX_VALUE_BYTES)} bytes`);
}
