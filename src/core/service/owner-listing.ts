import { formatOwner, ownerFromColumns } from "../model/index.ts";
import { ownerRepo, type Store } from "../store/index.ts";
import { actorScope, deniedError, denial, keepVisible, visibleOwners } from "./access.ts";
import type { Actor, RequestContext } from "./actor.ts";
import type { AuditLog } from "./audit-log.ts";

export type OwnerSummary = { readonly owner: string; readonly secrets: number };

const MAX_OWNERS = 10_000;

/**
 * The owners a caller can see (with live secrets), for the console's owner picker
 * (`GET /v1/owners`). Needs `secrets:read`; a token sees only the owners its patterns name
 * (the same three walls as secret listings); the cross-owner path is audited as `owner.list`.
 */
export class OwnerListing {
  readonly #store: Store;
  readonly #audit: AuditLog;

  constructor(deps: { store: Store; audit: AuditLog }) {
    this.#store = deps.store;
    this.#audit = deps.audit;
  }

  /** @throws CofferError SCOPE_DENIED (no `secrets:read`). */
  async list(actor: Actor, ctx: RequestContext): Promise<readonly OwnerSummary[]> {
    const why = denial(actor, "secrets:read", null);
    const event = { action: "owner.list", owner: null, key: null, version: null, reason: null } as const;
    if (why !== null) {
      await this.#audit.appendNow(actor, ctx, { ...event, outcome: "denied", details: { rule: why } });
      throw deniedError("secrets:read", null, why);
    }
    const visible = visibleOwners(actor);
    const scope = actorScope(actor);
    const rows = keepVisible(visible, await this.#store.read(scope, (db) => ownerRepo.listOwnerCounts(db, visible, MAX_OWNERS)));
    if (scope.kind === "all")
      await this.#audit.appendNow(actor, ctx, {
        ...event,
        outcome: "success",
        reason: scope.why,
        details: { scope: "all", count: rows.length },
      });
    return rows.map((r) => ({ owner: formatOwner(ownerFromColumns(r.owner_type, r.owner_id)), secrets: r.secrets }));
  }
}
