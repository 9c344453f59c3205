import * as z from "zod/mini";
import { KeyPrefix, Meta, parseKeyName, parseOwner, parseWith, MAX_VALUE_BYTES, type KeyName, type Owner } from "../model/index.ts";
import { invalidInput } from "../errors/index.ts";
import type { Secret } from "../secret/index.ts";

/** Raw input, as adapters receive it; parsed once here, at the service boundary. */
export type RefInput = { readonly owner: string; readonly key: string };
export type SecretRef = { readonly owner: Owner; readonly name: KeyName };

export const Version = z.int("must be a whole number").check(z.minimum(1, "must be 1 or more"), z.maximum(2 ** 31 - 1, "is too large"));
export const ExpectedVersion = z
  .int("must be a whole number")
  .check(z.minimum(0, "must be 0 (must not exist) or more"), z.maximum(2 ** 31 - 1, "is too large"));
export const Reason = z
  .string()
  .check(z.trim(), z.minLength(1, "is required: say why the plaintext is needed"), z.maxLength(500, "must be at most 500 chars"));
export const OwnerTypeFilter = z.enum(["user", "project", "system"], { error: "must be one of user, project, system" });
/** A list cursor: only a position (an id), never a scope. */
export const Cursor = z
  .int("must be a cursor from a previous page")
  .check(
    z.minimum(0, "must be a cursor from a previous page"),
    z.maximum(Number.MAX_SAFE_INTEGER, "must be a cursor from a previous page"),
  );
export const Limit = z.int("must be a whole number").check(z.minimum(1, "must be 1 or more"), z.maximum(1000, "must be at most 1000"));

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
