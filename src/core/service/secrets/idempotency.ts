import { CofferError } from "../../errors/index.ts";
import { encodeFields, hmacSha256, toHex } from "../../crypto/index.ts";
import { parseWith, lazySchema } from "../../model/index.ts";
import { NO_OWNERS, requestRepo } from "../../store/index.ts";
import { type Actor, type RequestContext } from "../access/actor.ts";
import { type SecretView } from "./secret-views.ts";
import type { SecretCrud } from "./secret-crud.ts";
import type { SecretsContext } from "./secrets-context.ts";
import type { SetInput } from "./secrets-service.ts";
/** An `Idempotency-Key` on a write: `scope` is whose keys these are (a token id). */
export type Idempotency = { readonly scope: string; readonly key: string };

/** The internal key that digests requests for idempotency records (keyed: a stored digest reveals nothing of a value). */
export const REQUEST_DIGEST_PURPOSE = "request-digest";
export type IdempotentResult = { readonly view: SecretView; readonly replayed: boolean };

/** How long an idempotency record is kept (replays after that write again). */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
const IdempotencyKey = lazySchema((z) =>
  z.string().check(z.regex(/^[\x21-\x7e]{1,255}$/, "must be 1-255 printable ASCII characters without spaces")),
);

/** `Idempotency-Key` on writes: the same key and request replay the first response. */
export class IdempotentWrites {
  readonly #c: SecretsContext;
  readonly #crud: SecretCrud;

  constructor(c: SecretsContext, crud: SecretCrud) {
    this.#c = c;
    this.#crud = crud;
  }

  /**
   * `set` under an idempotency key: the same key and request replay the first response without
   * a second write; the same key with another request is refused. The record is written in the
   * write's own transaction, so of two concurrent duplicates exactly one writes.
   * @throws CofferError IDEMPOTENCY_MISMATCH, and whatever `set` throws.
   */
  async setIdempotent(
    actor: Actor,
    ctx: RequestContext,
    input: SetInput,
    idem: Idempotency,
    /** What the request asked for when its value is made here (a generated secret): digested instead of the value. */
    request?: readonly (string | number)[],
  ): Promise<IdempotentResult> {
    const key = parseWith(IdempotencyKey, idem.key, "Idempotency-Key");
    const digest = await this.#requestDigest(input, request);
    const prior = await this.#replay(idem.scope, key, digest);
    if (prior !== null) return prior;
    try {
      return await this.#crud.write(actor, ctx, input, { scope: idem.scope, key, digest });
    } catch (e) {
      const raced = await this.#replay(idem.scope, key, digest);
      if (raced !== null) return raced;
      throw e;
    }
  }

  /** A keyed digest of everything a write carries, value included. */
  async #requestDigest(input: SetInput, request: readonly (string | number)[] | undefined): Promise<string> {
    const k = await this.#c.store.read(NO_OWNERS, (db) => this.#c.keys.internalKey(db, REQUEST_DIGEST_PURPOSE));
    if (request !== undefined) return toHex(hmacSha256(k.key, encodeFields(["request", input.owner, input.key, ...request])));
    const head = encodeFields([
      "set",
      input.owner,
      input.key,
      input.meta === undefined ? "-" : JSON.stringify(input.meta),
      input.expectedVersion ?? "-",
    ]);
    const value = input.value.reveal();
    const all = new Uint8Array(head.byteLength + value.byteLength);
    all.set(head);
    all.set(value, head.byteLength);
    value.fill(0);
    const mac = toHex(hmacSha256(k.key, all));
    all.fill(0);
    return mac;
  }

  async #replay(scope: string, key: string, digest: string): Promise<IdempotentResult | null> {
    const row = await this.#c.store.read(NO_OWNERS, (db) => requestRepo.findIdempotencyKey(db, scope, key));
    if (row === null) return null;
    if (Date.parse(row.created_at) < this.#c.fx.now().getTime() - IDEMPOTENCY_TTL_MS) return null;
    if (row.request_hash !== digest) {
      throw new CofferError("IDEMPOTENCY_MISMATCH", "Idempotency-Key: was already used with a different request", {
        field: "Idempotency-Key",
      });
    }
    return { view: JSON.parse(row.response) as SecretView, replayed: true };
  }
}
