import { createSecretKey, type KeyObject } from "node:crypto";
import { CofferError } from "../errors/index.ts";
import { decodeBase64Strict } from "./bytes.ts";
import { systemEffects, type Effects } from "./effects.ts";

/**
 * `util.inspect.custom`, by its documented registry key: importing `node:util` as an ES module
 * builds every one of its exports, several ms of every CLI start (docs/benchmarks.md).
 */
const INSPECT_CUSTOM = Symbol.for("nodejs.util.inspect.custom");

export const KEY_BYTES = 32;

/**
 * A 256-bit AES key, held as a `KeyObject`: about 3-4x faster per AES-GCM call than a Buffer
 * key on Node 24 (see bench/, "dek as KeyObject"), and it never prints its bytes. Used for
 * KEKs, scope keys and DEKs alike.
 */
export class AesKey {
  readonly #key: KeyObject;

  private constructor(key: KeyObject) {
    this.#key = key;
  }

  /** @throws CofferError KEY_INVALID when `bytes` is not exactly 32 bytes long. */
  static fromBytes(bytes: Uint8Array, source: string): AesKey {
    if (bytes.byteLength !== KEY_BYTES) {
      throw new CofferError("KEY_INVALID", `${source}: a key must be exactly ${String(KEY_BYTES)} bytes, got ${String(bytes.byteLength)}`, {
        source,
      });
    }
    return new AesKey(createSecretKey(bytes));
  }

  static generate(fx: Effects = systemEffects): AesKey {
    const bytes = fx.random(KEY_BYTES);
    const key = new AesKey(createSecretKey(bytes));
    bytes.fill(0);
    return key;
  }

  /** The only way key bytes leave this type; callers must wipe the result. */
  exportBytes(): Uint8Array {
    return new Uint8Array(this.#key.export());
  }

  /** For `node:crypto` calls inside this module only. */
  get keyObject(): KeyObject {
    return this.#key;
  }

  toString(): string {
    return "AesKey(********)";
  }

  toJSON(): string {
    return "AesKey(********)";
  }

  [INSPECT_CUSTOM](): string {
    return "AesKey(********)";
  }
}

const HOW_TO = "generate one with: openssl rand -base64 32";

/**
 * Decodes a base64 key strictly: canonical standard base64, exactly 32 bytes, no guessing of
 * other encodings. Surrounding whitespace (a trailing newline in a file) is ignored.
 * @throws CofferError KEY_INVALID naming `source` and what is wrong, never the text itself.
 */
export function parseKeyBase64(text: string, source: string): AesKey {
  const trimmed = text.trim();
  if (trimmed === "") throw new CofferError("KEY_INVALID", `${source} is empty; ${HOW_TO}`, { source });
  const bytes = decodeBase64Strict(trimmed);
  if (bytes === null) {
    throw new CofferError("KEY_INVALID", `${source} is not valid base64; ${HOW_TO}`, { source });
  }
  if (bytes.byteLength !== KEY_BYTES) {
    const n = bytes.byteLength;
    bytes.fill(0);
    throw new CofferError(
      "KEY_INVALID",
      `${source} decodes to ${String(n)} bytes, but a key must be exactly ${String(KEY_BYTES)} bytes; ${HOW_TO}`,
      { source },
    );
  }
  const key = AesKey.fromBytes(bytes, source);
  bytes.fill(0);
  return key;
}
