import type { Plain } from "./enc-value.ts";

/**
 * One scalar or comment of a parsed file, in document order, as the crypto walk sees it. Each
 * codec (YAML, JSON, dotenv, INI, binary) adapts its own tree to this seam, so the walk that
 * encrypts, decrypts and MACs is written once.
 */
export type Leaf = {
  readonly kind: "value" | "comment";
  /** Map keys from the root down (list indices omitted); for a comment, its enclosing map or list. */
  readonly path: readonly string[];
  /** The leaf as sops's canonical bytes; `null` for a null value (neither encrypted nor MAC'd). */
  read(): Plain | null;
  /** The stored text when the leaf is a string (an ENC[] value in an encrypted file), else `null`. */
  stored(): string | null;
  /** Replaces the leaf with an ENC[] string. */
  writeEncrypted(text: string): void;
  /** Replaces the leaf with a decrypted value of the given type. */
  writePlain(plain: Plain): void;
};

/** A parsed file: its leaves, the `sops` metadata it carried (plain data), and a serializer. */
export type SopsDocument = {
  leaves(): readonly Leaf[];
  /** The raw `sops` metadata as plain data, or `null` when the file has none. */
  readonly metadata: Readonly<Record<string, unknown>> | null;
  /** Sets (or, with `null`, removes) the metadata written by `serialize`. */
  setMetadata(meta: Readonly<Record<string, unknown>> | null): void;
  serialize(): Uint8Array;
};
