import { CofferError } from "../errors/index.ts";
import type { Kid } from "../model/index.ts";
import type { KekProvider, ProviderInfo } from "./kek-provider.ts";
import type { KeyStorage } from "./key-storage.ts";
import { serviceRefusal } from "./mint-refusals.ts";

/**
 * Where the keyring's kids are recorded (a key manifest, a keyring file), so a rotation can
 * record a new key and switch the active kid; and why a new key cannot be minted, when it
 * cannot (said to the operator as is).
 */
export type Minting = { readonly storage: KeyStorage | null; readonly refusal: string | null };

/**
 * The KEKs Coffer can use, by kid. Writes always wrap with the active kid; reads pick the KEK
 * by the kid stored with the data. A rotation adds a minted key and switches the active kid
 * in place (after its storage recorded both), so a running server wraps with it at once.
 */
export class Keyring {
  #active: KekProvider;
  readonly #byKid: Map<string, KekProvider>;
  readonly minting: Minting;

  constructor(
    activeKid: Kid,
    providers: readonly KekProvider[],
    minting: Minting = { storage: null, refusal: "this key provider cannot store a new key" },
  ) {
    this.#byKid = new Map(providers.map((p) => [p.kid, p]));
    const active = this.#byKid.get(activeKid);
    if (active === undefined) {
      throw new CofferError("KEY_NOT_FOUND", `the active kid '${activeKid}' is not in the keyring`, { kid: activeKid });
    }
    this.#active = active;
    this.minting = minting;
  }

  get active(): KekProvider {
    return this.#active;
  }

  /** Why a new key cannot be minted now (the provider, or an active kid held by a key service); null when it can. */
  mintRefusal(): string | null {
    const mintsActive = this.minting.storage?.mints?.includes(this.#active.kind) === true;
    return (
      (mintsActive ? null : serviceRefusal(this.#active.kind)) ??
      this.minting.refusal ??
      (this.minting.storage === null ? "this key provider cannot store a new key" : null)
    );
  }

  /** Is a KEK with this kid configured? */
  has(kid: string): boolean {
    return this.#byKid.has(kid);
  }

  /**
   * Picks up kids another server sharing the key storage recorded since this keyring was
   * loaded, and its active kid. Never removes a kid; a storage that cannot be read leaves the
   * keyring as it is.
   */
  refresh(): void {
    const storage = this.minting.storage;
    if (storage === null) return;
    let r: ReturnType<KeyStorage["reload"]>;
    try {
      r = storage.reload(new Set(this.#byKid.keys()));
    } catch {
      return;
    }
    for (const p of r.added) this.#byKid.set(p.kid, p);
    this.#active = this.#byKid.get(r.active) ?? this.#active;
  }

  /** @throws CofferError KEY_NOT_FOUND when no KEK with this kid is configured. */
  get(kid: string): KekProvider {
    if (!this.#byKid.has(kid)) this.refresh();
    const p = this.#byKid.get(kid);
    if (p === undefined) {
      throw new CofferError(
        "KEY_NOT_FOUND",
        `data is wrapped by kid '${kid}', which is not in the configured keyring (known: ${[...this.#byKid.keys()].join(", ")}); add that key back to the keyring`,
        { kid },
      );
    }
    return p;
  }

  /** Adds a freshly minted KEK (already stored and recorded by its storage). */
  add(provider: KekProvider): void {
    if (this.#byKid.has(provider.kid))
      throw new CofferError("CONFLICT", `kid '${provider.kid}' is already in the keyring`, { kid: provider.kid });
    this.#byKid.set(provider.kid, provider);
  }

  /** Makes a configured kid the one new wraps use (after its storage recorded it as active). */
  activate(kid: string): void {
    this.#active = this.get(kid);
  }

  describe(): readonly ProviderInfo[] {
    return [...this.#byKid.values()].map((p) => p.describe());
  }

  /** Releases key-service connections. */
  close(): void {
    for (const p of this.#byKid.values()) p.close?.();
  }
}
