import type { Owner } from "../../model/index.ts";
import { deniedError, denial } from "./access.ts";
import type { Actor, Permission, RequestContext } from "./actor.ts";
import type { AuditInput, AuditLog } from "../audit/audit-log.ts";

/** What a refusal is audited as; `outcome` is always written as `denied`. */
export type DeniedEvent = Omit<AuditInput, "outcome"> & { readonly outcome?: AuditInput["outcome"] };

/**
 * The one access gate of the services: refuse, audit the denial, throw. Secrets, templates,
 * tokens, the audit log and every admin service call it before doing anything, so a refusal
 * reads the same (SCOPE_DENIED, the rule in the audit row's `details.rule`) wherever it happens.
 */
export class AccessGate {
  readonly #audit: Pick<AuditLog, "appendNow">;

  constructor(audit: Pick<AuditLog, "appendNow">) {
    this.#audit = audit;
  }

  /** Refuses (audited as `denied`) an actor that lacks `permission` on `owner`. @throws CofferError SCOPE_DENIED. */
  async require(actor: Actor, ctx: RequestContext, permission: Permission, owner: Owner | null, denied: DeniedEvent): Promise<void> {
    const why = denial(actor, permission, owner);
    if (why !== null) await this.refuse(actor, ctx, permission, owner, why, denied);
  }

  /** Refuses (audited as `action`, about no owner unless `target` says) an actor without the `admin` scope. */
  admin(actor: Actor, ctx: RequestContext, action: string, target: Partial<DeniedEvent> = {}): Promise<void> {
    return this.require(actor, ctx, "admin", null, { action, owner: null, key: null, version: null, reason: null, ...target });
  }

  /** Audits a refusal already decided (`why`), then throws it. @throws CofferError SCOPE_DENIED. */
  async refuse(
    actor: Actor,
    ctx: RequestContext,
    permission: Permission,
    owner: Owner | null,
    why: string,
    denied: DeniedEvent,
  ): Promise<never> {
    await this.#audit.appendNow(actor, ctx, { ...denied, outcome: "denied", details: { ...denied.details, rule: why } });
    throw deniedError(permission, owner, why);
  }
}
