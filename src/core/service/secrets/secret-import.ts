import { formatOwner, parseOwner, parseWith, zod } from "../../model/index.ts";
import { actorLabel, type Actor, type RequestContext } from "../access/actor.ts";
import type { AuditInput } from "../audit/audit-log.ts";
import { appendVersion, lockOrCreate } from "./secret-write.ts";
import { IMPORT_MODES, liveSecrets, parseEntries, type ImportInput, type ImportSummary, type ImportedKey } from "./secret-bulk.ts";
import type { SecretsContext } from "./secrets-context.ts";

/** Bulk import: many secrets of one owner in one transaction. */
export class BulkImport {
  readonly #c: SecretsContext;

  constructor(c: SecretsContext) {
    this.#c = c;
  }

  /**
   * The `secrets:write` gate of an import, on the owner when it is known (a bundle may name its
   * own), before an adapter spends work decrypting the source; refusals are audited.
   * `importMany` checks again. @throws CofferError SCOPE_DENIED.
   */
  async authorizeImport(actor: Actor, ctx: RequestContext, owner: string | null): Promise<void> {
    const parsed = owner === null ? null : parseOwner(owner);
    const denied = { action: "secret.import", owner: parsed, key: null, version: null, reason: null, outcome: "denied" } as const;
    await this.#c.allow(actor, ctx, "secrets:write", parsed, denied);
  }

  /**
   * Writes many secrets of one owner in ONE transaction: every entry is validated first (an
   * error names its line or key, and nothing is written), then each becomes a new version as
   * `set` would make it, audited one `secret.import` event each; `replace` also deletes (soft)
   * every live secret not in the input, audited as `secret.unset`. Needs `secrets:write` on the
   * owner; the write rate limit counts the import once.
   * @throws CofferError INVALID_INPUT, SCOPE_DENIED, RATE_LIMITED, AUDIT_FAILED, STORE_BUSY.
   */
  async importMany(actor: Actor, ctx: RequestContext, input: ImportInput): Promise<ImportSummary> {
    const owner = parseOwner(input.owner);
    const mode = parseWith(zod().enum(IMPORT_MODES, { error: "must be merge or replace" }), input.mode, "mode");
    const entries = parseEntries(input.entries);
    const source = input.source ?? null;
    const base = { action: "secret.import", owner, key: null, version: null, reason: null } as const;
    await this.#c.allow(actor, ctx, "secrets:write", owner, { ...base, outcome: "denied" });
    await this.#c.limit(actor, ctx, "write", { ...base, outcome: "denied" });
    const failure = { ...base, outcome: "error", details: { mode, count: entries.length } } as const;
    return this.#c.sealing(actor, ctx, owner, failure, async (tx, scope) => {
      const now = this.#c.fx.now().toISOString();
      const by = actorLabel(actor);
      const secrets: ImportedKey[] = [];
      const events: AuditInput[] = [];
      const details = { mode, ...(source === null ? {} : { source }) };
      for (const e of entries) {
        const row = await lockOrCreate(tx, owner, e.name, now);
        const existed = row.deleted_at === null && row.current_version > 0;
        const w = await appendVersion(tx, row, {
          ...{ owner, name: e.name, value: e.value, meta: e.meta },
          scope,
          by,
          now,
          fx: this.#c.fx,
          state: this.#c.state,
        });
        secrets.push({ key: e.name, version: w.current_version, existed });
        events.push({ ...base, key: e.name, version: w.current_version, outcome: "success", details });
      }
      const deleted: string[] = [];
      if (mode === "replace") {
        const keep = new Set<string>(entries.map((e) => e.name));
        for (const row of await liveSecrets(tx, owner)) {
          if (keep.has(row.key_name)) continue;
          await this.#c.state.check(tx, row);
          await this.#c.state.write(tx, row, { deleted_at: now, updated_at: now });
          deleted.push(row.key_name);
          events.push({
            ...base,
            action: "secret.unset",
            key: row.key_name,
            version: row.current_version,
            outcome: "success",
            details: { via: "import --replace" },
          });
        }
      }
      await this.#c.audit.appendAll(tx, actor, ctx, events);
      const updated = secrets.filter((x) => x.existed).length;
      return { owner: formatOwner(owner), mode, imported: secrets.length, updated, deleted, secrets };
    });
  }
}
