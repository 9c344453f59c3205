/**
 * `util.inspect.custom`, by its documented registry key: importing `node:util` as an ES module
 * builds every one of its exports, several ms of every CLI start (docs/benchmarks.md).
 */
const INSPECT_CUSTOM = Symbol.for("nodejs.util.inspect.custom");

/** What every non-reveal path prints instead of a value. Fixed length: it says nothing of the value. */
export const MASK = "********";

/**
 * Plaintext secret bytes. It cannot print itself: `toString`, `toJSON`, template literals and
 * `util.inspect` all yield {@link MASK}. Only {@link Secret.reveal} returns the bytes.
 */
export class Secret {
  readonly #bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** Copies `bytes`, so wiping the caller's buffer does not change the secret. */
  static of(bytes: Uint8Array): Secret {
    return new Secret(Uint8Array.from(bytes));
  }

  static fromString(text: string): Secret {
    return new Secret(new TextEncoder().encode(text));
  }

  /** Takes ownership of `bytes` without a copy (for buffers Coffer itself just decrypted). */
  static adopt(bytes: Uint8Array): Secret {
    return new Secret(bytes);
  }

  get byteLength(): number {
    return this.#bytes.byteLength;
  }

  /** A copy of the plaintext bytes. */
  reveal(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  /** The plaintext as UTF-8 text (invalid sequences become U+FFFD). */
  revealText(): string {
    return new TextDecoder().decode(this.#bytes);
  }

  /** Best effort: JavaScript may have copied the bytes elsewhere. */
  wipe(): void {
    this.#bytes.fill(0);
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  [Symbol.toPrimitive](): string {
    return MASK;
  }

  [INSPECT_CUSTOM](): string {
    return `Secret(${MASK})`;
  }
}
