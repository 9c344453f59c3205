import { unwrapKey, wrapKey } from "../../../crypto/index.ts";
import { CofferError, isCofferError } from "../../../errors/index.ts";
import { formatOwner, parseOwner, type Owner } from "../../../model/index.ts";
import { keyRepo, secretRepo, type Executor, type Store } from "../../../store/index.ts";
import type { Actor, RequestContext } from "../../access/actor.ts";
import type { AuditLog } from "../../audit/audit-log.ts";
import type { KeyManager, ScopeKey } from "../../scope-keys/key-manager.ts";
import { ownerScope } from "../../access/scopes.ts";
import { cols } from "../../secrets/secret-lookup.ts";
import { AccessGate } from "../../access/gate.ts";

export type RekeyReport = {
  readonly owner: string;
  readonly scopeKeyId: string;
  /** Versions whose data key was rewrapped under the new scope key (values are not touched). */
  readonly rewrapped: number;
  readonly retiredScopeKeys: number;
};

/**
 * Per-owner rekey: a new scope key for the owner, every DEK of every version (deleted secrets
 * too) unwrapped with the scope key that wrapped it and rewrapped under the new one, the old
 * scope keys deleted — all in one audited transaction. Values are not re-encrypted (that is
 * `rotate`, per secret). Online: reads see each version either before or after (its wrapped
 * DEK and scope key id change in one row); a write holding the old key in its cache finds it
 * retired and retries with the new one.
 */
export class OwnerRekey {
  readonly #store: Store;
  readonly #keys: KeyManager;
  readonly #audit: AuditLog;
  readonly #gate: AccessGate;

  constructor(core: { readonly store: Store; readonly keys: KeyManager; readonly audit: AuditLog }) {
    this.#store = core.store;
    this.#keys = core.keys;
    this.#audit = core.audit;
    this.#gate = new AccessGate(core.audit);
  }

  /** @throws CofferError NOT_FOUND (no scope key: nothing stored), DECRYPT_FAILED, AUDIT_FAILED. */
  async rekey(actor: Actor, ctx: RequestContext, input: { readonly owner: string }): Promise<RekeyReport> {
    const owner = parseOwner(input.owner);
    const base = { action: "owner.rekey", owner, key: null, version: null, reason: null } as const;
    await this.#gate.admin(actor, ctx, base.action, base);
    let report: RekeyReport;
    try {
      report = await this.#store.transaction(ownerScope(owner), async (tx) => {
        const r = await this.#rewrap(tx, owner);
        await this.#audit.append(tx, actor, ctx, {
          ...base,
          outcome: "success",
          details: { rewrapped: r.rewrapped, retiredScopeKeys: r.retiredScopeKeys },
        });
        return r;
      });
    } catch (e) {
      if (!isCofferError(e) || (e.code !== "AUDIT_FAILED" && e.code !== "NOT_FOUND")) {
        await this.#audit.appendNow(actor, ctx, { ...base, outcome: "error", details: { code: isCofferError(e) ? e.code : "INTERNAL" } });
      }
      throw e;
    }
    this.#keys.forgetOwner(owner);
    return report;
  }

  async #rewrap(tx: Executor, owner: Owner): Promise<RekeyReport> {
    const { previous, fresh } = await this.#keys.replaceScopeKey(tx, owner);
    if (previous.length === 0)
      throw new CofferError("NOT_FOUND", `${formatOwner(owner)} has no scope key: nothing is stored for it`, { owner: formatOwner(owner) });
    const byId = new Map<string, ScopeKey>(previous.map((k) => [k.id, k]));
    const rows = await secretRepo.listOwnerWrappedDeks(tx, cols(owner));
    for (const row of rows) {
      const old = byId.get(row.scope_key_id);
      if (old === undefined) {
        throw new CofferError(
          "DECRYPT_FAILED",
          `${formatOwner(owner)} ${row.key_name} v${String(row.version)} names a scope key the owner does not have`,
          {
            owner: formatOwner(owner),
            key: row.key_name,
            version: row.version,
          },
        );
      }
      const place = { kind: "dek", owner, name: row.key_name, version: row.version } as const;
      const dek = unwrapKey(old.key, row.wrapped_dek, { ...place, scopeKeyId: old.id });
      const wrapped = wrapKey(fresh.key, dek, { ...place, scopeKeyId: fresh.id });
      await secretRepo.updateWrappedDek(
        tx,
        { secretId: row.secret_id, version: row.version },
        { wrapped_dek: wrapped, scope_key_id: fresh.id },
      );
    }
    const retiredScopeKeys = await keyRepo.deleteScopeKeys(tx, [...byId.keys()]);
    return { owner: formatOwner(owner), scopeKeyId: fresh.id, rewrapped: rows.length, retiredScopeKeys };
  }
}
