import { CofferError } from "../errors/index.ts";
import type { Kid } from "../model/index.ts";
import type { KekProvider, ProviderInfo } from "./kek-provider.ts";

/**
 * The KEKs Coffer can use, by kid. Writes always wrap with the active kid; reads pick the KEK
 * by the kid stored with the data.
 */
export class Keyring {
  readonly active: KekProvider;
  readonly #byKid: ReadonlyMap<string, KekProvider>;

  constructor(activeKid: Kid, providers: readonly KekProvider[]) {
    this.#byKid = new Map(providers.map((p) => [p.kid, p]));
    const active = this.#byKid.get(activeKid);
    if (active === undefined) {
      throw new CofferError("KEY_NOT_FOUND", `the active kid '${activeKid}' is not in the keyring`, { kid: activeKid });
    }
    this.active = active;
  }

  /** @throws CofferError KEY_NOT_FOUND when no KEK with this kid is configured. */
  get(kid: string): KekProvider {
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

  describe(): readonly ProviderInfo[] {
    return [...this.#byKid.values()].map((p) => p.describe());
  }

  /** Releases key-service connections. */
  close(): void {
    for (const p of this.#byKid.values()) p.close?.();
  }
}
