import type { CofferError } from "../../errors/index.ts";
import type { Secret } from "../../secret/index.ts";
import type { Actor, RequestContext } from "../access/actor.ts";
import type { ImportInput, ImportSummary } from "./secret-bulk.ts";
import type { RefInput } from "./secret-inputs.ts";
import type { SecretView, VersionView } from "./secret-views.ts";
import { SecretsContext, type SecretsDeps } from "./secrets-context.ts";
import { SecretCrud } from "./secret-crud.ts";
import { SecretReveal } from "./secret-reveal.ts";
import { BulkImport } from "./secret-import.ts";
import { ShareLinks } from "../sharing/share-links.ts";
import { IdempotentWrites, type Idempotency, type IdempotentResult } from "./idempotency.ts";

export { IDEMPOTENCY_TTL_MS, REQUEST_DIGEST_PURPOSE, type Idempotency, type IdempotentResult } from "./idempotency.ts";

export type SetInput = RefInput & { readonly value: Secret; readonly meta?: unknown; readonly expectedVersion?: number };
export type RevealInput = RefInput & { readonly reason: string; readonly version?: number };
export type ListInput = {
  readonly owner?: string;
  /** Only owners of this type (`user`, `project`, `system`). */
  readonly ownerType?: string;
  readonly prefix?: string;
  readonly includeDeleted?: boolean;
  readonly cursor?: number;
  readonly limit?: number;
};
export type RevealedSecret = { readonly view: SecretView; readonly value: Secret };
/** One secret of an export: its current value, version and metadata. */
export type ExportedSecret = {
  readonly key: string;
  readonly version: number;
  readonly meta: Readonly<Record<string, string>>;
  readonly value: Secret;
};
export type SharedLink = { readonly id: string; readonly token: Secret; readonly expiresAt: string; readonly view: SecretView };
/** Which secrets an export or `run` reveals: every live one of an owner, under a prefix. */
export type RevealAllInput = { readonly owner: string; readonly prefix?: string; readonly reason: string };
export type RevealManyInput = {
  readonly refs: readonly (RefInput & { readonly version?: number })[];
  readonly reason: string;
  readonly via: string;
  /** The error for a missing secret (by index), thrown before anything is revealed; null: the result is null. */
  readonly missing: (index: number) => CofferError | null;
};

/**
 * The product's behaviour for secrets, shared by every adapter (CLI local mode, HTTP server),
 * so the two can never disagree: one door over the capability modules (CRUD, reveal and export,
 * share links, idempotency, bulk import), each validating raw input with zod, writing every
 * change and its audit event in one transaction, and returning masked views unless revealing.
 * Every method takes `(actor, ctx, input)`.
 */
export class SecretsService {
  readonly #crud: SecretCrud;
  readonly #reveal: SecretReveal;
  readonly #import: BulkImport;
  readonly #share: ShareLinks;
  readonly #idem: IdempotentWrites;

  constructor(deps: SecretsDeps) {
    const c = new SecretsContext(deps);
    this.#crud = new SecretCrud(c);
    this.#reveal = new SecretReveal(c);
    this.#import = new BulkImport(c);
    this.#share = new ShareLinks(c);
    this.#idem = new IdempotentWrites(c, this.#crud);
  }

  /** See {@link SecretCrud.set}. */
  set(actor: Actor, ctx: RequestContext, input: SetInput): Promise<SecretView> {
    return this.#crud.set(actor, ctx, input);
  }

  /** See {@link IdempotentWrites.setIdempotent}. */
  setIdempotent(
    actor: Actor,
    ctx: RequestContext,
    input: SetInput,
    idem: Idempotency,
    request?: readonly (string | number)[],
  ): Promise<IdempotentResult> {
    return this.#idem.setIdempotent(actor, ctx, input, idem, request);
  }

  get(actor: Actor, ctx: RequestContext, input: RefInput & { readonly version?: number }): Promise<SecretView> {
    return this.#crud.get(actor, ctx, input);
  }

  list(
    actor: Actor,
    ctx: RequestContext,
    input: ListInput,
  ): Promise<{ readonly items: readonly SecretView[]; readonly nextCursor: number | null }> {
    return this.#crud.list(actor, ctx, input);
  }

  history(actor: Actor, ctx: RequestContext, input: RefInput): Promise<readonly VersionView[]> {
    return this.#crud.history(actor, ctx, input);
  }

  unset(actor: Actor, ctx: RequestContext, input: RefInput & { readonly expectedVersion?: number }): Promise<SecretView> {
    return this.#crud.unset(actor, ctx, input);
  }

  rotate(actor: Actor, ctx: RequestContext, input: RefInput): Promise<SecretView> {
    return this.#crud.rotate(actor, ctx, input);
  }

  reveal(actor: Actor, ctx: RequestContext, input: RevealInput): Promise<RevealedSecret> {
    return this.#reveal.reveal(actor, ctx, input);
  }

  revealAll(actor: Actor, ctx: RequestContext, input: RevealAllInput): Promise<ReadonlyMap<string, Secret>> {
    return this.#reveal.revealAll(actor, ctx, input);
  }

  exportValues(actor: Actor, ctx: RequestContext, input: RevealAllInput): Promise<readonly ExportedSecret[]> {
    return this.#reveal.exportValues(actor, ctx, input);
  }

  revealMany(actor: Actor, ctx: RequestContext, input: RevealManyInput): Promise<(RevealedSecret | null)[]> {
    return this.#reveal.revealMany(actor, ctx, input);
  }

  authorizeImport(actor: Actor, ctx: RequestContext, owner: string | null): Promise<void> {
    return this.#import.authorizeImport(actor, ctx, owner);
  }

  importMany(actor: Actor, ctx: RequestContext, input: ImportInput): Promise<ImportSummary> {
    return this.#import.importMany(actor, ctx, input);
  }

  share(actor: Actor, ctx: RequestContext, input: RevealInput & { readonly ttl?: string }): Promise<SharedLink> {
    return this.#share.share(actor, ctx, input);
  }

  /** No actor: whoever holds the link's token redeems it (`ctx` names the client). */
  redeemShare(ctx: RequestContext, token: string): Promise<RevealedSecret> {
    return this.#share.redeemShare(ctx, token);
  }
}
