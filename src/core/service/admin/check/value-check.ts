import { toHex } from "../../../crypto/index.ts";
import { formatOwner, parseOwner, type Owner } from "../../../model/index.ts";
import { secretRepo, type Store } from "../../../store/index.ts";
import { AccessGate } from "../../access/gate.ts";
import type { Actor, RequestContext } from "../../access/actor.ts";
import type { AuditLog } from "../../audit/audit-log.ts";
import type { KeyManager } from "../../scope-keys/key-manager.ts";
import { secretLabel, VALUE_HMAC_PURPOSE } from "../../secrets/secret-state.ts";

export type CheckedSecret = { readonly owner: string; readonly key: string; readonly version: number };
export type CheckReport = {
  readonly secrets: number;
  /** One entry per value held by secrets of two or more owners (which value is never said). */
  readonly reused: readonly { readonly secrets: readonly CheckedSecret[] }[];
  /** Key names held by two or more owners whose values differ (e.g. staging and production drifted apart). */
  readonly drift: readonly { readonly key: string; readonly owners: readonly string[]; readonly distinctValues: number }[];
  /** Current versions with no plaintext HMAC under the current HMAC key: written before it existed, or under a retired one. */
  readonly unchecked: readonly CheckedSecret[];
};

const ownerText = (r: { readonly owner_type: string; readonly owner_id: string }): string => secretLabel({ ...r, key_name: "" }).trimEnd();

/**
 * `coffer secrets check [owner]`: compares the stored plaintext HMACs of every live secret's
 * current version, without decrypting anything: values reused across owners, key names whose
 * values differ between owners (drift), and versions that carry no HMAC under the current key.
 * Equality of values across owners is itself information, so this needs `admin`; audited.
 */
export class ValueCheck {
  readonly #store: Store;
  readonly #keys: KeyManager;
  readonly #audit: AuditLog;

  constructor(core: { readonly store: Store; readonly keys: KeyManager; readonly audit: AuditLog }) {
    this.#store = core.store;
    this.#keys = core.keys;
    this.#audit = core.audit;
  }

  /** @throws CofferError SCOPE_DENIED (audited), INVALID_INPUT (owner). */
  async check(actor: Actor, ctx: RequestContext, input: { readonly owner?: string }): Promise<CheckReport> {
    const owner: Owner | null = input.owner === undefined ? null : parseOwner(input.owner);
    const base = { action: "secret.check", owner, key: null, version: null, reason: null } as const;
    await new AccessGate(this.#audit).admin(actor, ctx, base.action, base);
    const scope = { kind: "all", why: "secrets check" } as const;
    const [rows, current] = await this.#store.read(scope, async (db) => [
      await secretRepo.listCurrentHmacs(db, null),
      await this.#keys.internalKey(db, VALUE_HMAC_PURPOSE),
    ]);
    const report = compare(rows, current.id, owner === null ? null : formatOwner(owner));
    await this.#audit.appendNow(actor, ctx, {
      ...base,
      outcome: "success",
      details: { secrets: report.secrets, reused: report.reused.length, drift: report.drift.length, unchecked: report.unchecked.length },
    });
    return report;
  }
}

/** Groups by HMAC (values) and by key name (drift); with `only`, keeps the findings that involve that owner. */
function compare(rows: readonly secretRepo.ValueHmacRow[], keyId: string, only: string | null): CheckReport {
  const item = (r: secretRepo.ValueHmacRow): CheckedSecret => ({ owner: ownerText(r), key: r.key_name, version: r.version });
  const byValue = new Map<string, CheckedSecret[]>();
  const byName = new Map<string, Map<string, string>>();
  const unchecked: CheckedSecret[] = [];
  for (const r of rows) {
    if (r.hmac === null || r.hmac_key_id !== keyId) {
      unchecked.push(item(r));
      continue;
    }
    const h = toHex(r.hmac);
    byValue.set(h, [...(byValue.get(h) ?? []), item(r)]);
    const owners = byName.get(r.key_name) ?? new Map<string, string>();
    owners.set(ownerText(r), h);
    byName.set(r.key_name, owners);
  }
  const involves = (owners: readonly string[]): boolean => only === null || owners.includes(only);
  const reused = [...byValue.values()]
    .filter((s) => new Set(s.map((x) => x.owner)).size > 1 && involves(s.map((x) => x.owner)))
    .map((s) => ({ secrets: s }));
  const drift = [...byName.entries()]
    .filter(([, owners]) => owners.size > 1 && new Set(owners.values()).size > 1 && involves([...owners.keys()]))
    .map(([key, owners]) => ({ key, owners: [...owners.keys()], distinctValues: new Set(owners.values()).size }));
  const mine = only === null ? rows.length : rows.filter((r) => ownerText(r) === only).length;
  return { secrets: mine, reused, drift, unchecked: unchecked.filter((u) => only === null || u.owner === only) };
}
