import { systemEffects, type Effects } from "../../crypto/index.ts";
import { CofferError } from "../../errors/index.ts";
import { formatOwner, ownerIdColumn, parseOwner, parseWith, type Owner, lazySchema } from "../../model/index.ts";
import { templateRepo, type Store } from "../../store/index.ts";
import {
  parseTemplate,
  resolveTemplateFormat,
  referenceName,
  renderTemplate,
  templateFormatFromName,
  templateReferences,
  type SecretReference,
  type TemplateFormat,
} from "../../template/index.ts";
import { AccessGate } from "../access/gate.ts";
import { actorLabel, type Actor, type Permission, type RequestContext } from "../access/actor.ts";
import type { AuditInput, AuditLog } from "../audit/audit-log.ts";
import { ownerScope } from "../access/scopes.ts";
import type { SecretsService } from "../secrets/secrets-service.ts";

export const TEMPLATE_NAME_RULE = "must be 1-128 letters, digits, '_', '.', '-', starting with a letter, digit or '_'";
const TemplateName = lazySchema((z) => z.string().check(z.regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, TEMPLATE_NAME_RULE)));

export type TemplateView = {
  readonly owner: string;
  readonly name: string;
  readonly format: TemplateFormat | null;
  /** How many references the template has (null in listings, which do not read the text). */
  readonly references: number | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly updatedBy: string;
};
export type TemplateText = TemplateView & { readonly text: string };
export type RenderedTemplate = { readonly bytes: Uint8Array; readonly format: TemplateFormat; readonly references: number };
type TemplateRef = { readonly owner: string; readonly name: string };

/**
 * Stored templates (seed 000: a project host renders its own configuration). A template is
 * text with references to secrets; storing one needs `secrets:write` on its owner, reading its
 * text `secrets:read`, and rendering it `secrets:reveal` on its owner **and on every owner it
 * references**, checked before anything is read, so no template reaches beyond the caller's owners.
 */
export class TemplateService {
  readonly #store: Store;
  readonly #audit: AuditLog;
  readonly #secrets: SecretsService;
  readonly #fx: Effects;

  constructor(deps: { store: Store; audit: AuditLog; secrets: SecretsService; fx?: Effects }) {
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#secrets = deps.secrets;
    this.#fx = deps.fx ?? systemEffects;
  }

  /** @throws CofferError INVALID_INPUT (name, or the template's line and column), SCOPE_DENIED. */
  async put(actor: Actor, ctx: RequestContext, input: TemplateRef & { readonly text: string }): Promise<TemplateView> {
    const { owner, name } = this.#parse(input);
    await this.#allow(actor, ctx, "secrets:write", owner, this.#event("template.put", owner, name));
    const refs = templateReferences(parseTemplate(input.text));
    for (const r of refs) if (r.owner !== null) parseOwner(r.owner, `template line ${String(r.line)} owner`);
    const now = this.#fx.now().toISOString();
    const row = { ...this.#cols(owner), name, body: input.text, created_at: now, updated_at: now, updated_by: actorLabel(actor) };
    await this.#store.transaction(ownerScope(owner), async (tx) => {
      await templateRepo.upsertTemplate(tx, row);
      await this.#audit.append(tx, actor, ctx, { ...this.#event("template.put", owner, name), outcome: "success" });
    });
    const stored = await this.#find(owner, name);
    return toView(owner, stored, refs.length);
  }

  /** The template's text (never a secret's value). @throws CofferError NOT_FOUND, SCOPE_DENIED. */
  async get(actor: Actor, ctx: RequestContext, input: TemplateRef): Promise<TemplateText> {
    const { owner, name } = this.#parse(input);
    await this.#allow(actor, ctx, "secrets:read", owner, this.#event("template.get", owner, name));
    const row = await this.#find(owner, name);
    return { ...toView(owner, row, templateReferences(parseTemplate(row.body)).length), text: row.body };
  }

  async list(actor: Actor, ctx: RequestContext, input: { readonly owner: string }): Promise<TemplateView[]> {
    const owner = parseOwner(input.owner);
    await this.#allow(actor, ctx, "secrets:read", owner, this.#event("template.list", owner, null));
    const rows = await this.#store.read(ownerScope(owner), (db) => templateRepo.listTemplates(db, this.#colsOf(owner)));
    return rows.map((r) => toView(owner, { ...r, body: "" }, null));
  }

  /** @throws CofferError NOT_FOUND, SCOPE_DENIED. */
  async delete(actor: Actor, ctx: RequestContext, input: TemplateRef): Promise<void> {
    const { owner, name } = this.#parse(input);
    await this.#allow(actor, ctx, "secrets:write", owner, this.#event("template.delete", owner, name));
    await this.#store.transaction(ownerScope(owner), async (tx) => {
      if (!(await templateRepo.deleteTemplate(tx, this.#colsOf(owner), name))) throw notFound(owner, name);
      await this.#audit.append(tx, actor, ctx, { ...this.#event("template.delete", owner, name), outcome: "success" });
    });
  }

  /**
   * Renders a stored template: every reference is an audited reveal with `reason`, escaped for
   * the template's format (from its name, or `format`). A missing reference without a default
   * fails the whole render, naming it, before anything is revealed.
   * @throws CofferError SCOPE_DENIED (any owner referenced), NOT_FOUND, INVALID_INPUT, RATE_LIMITED.
   */
  async render(
    actor: Actor,
    ctx: RequestContext,
    input: TemplateRef & { readonly reason?: string; readonly format?: string },
  ): Promise<RenderedTemplate> {
    const { owner, name } = this.#parse(input);
    const event = this.#event("template.render", owner, name);
    await this.#allow(actor, ctx, "secrets:reveal", owner, event);
    const row = await this.#find(owner, name);
    const format = resolveTemplateFormat(input.format, name);
    const template = parseTemplate(row.body);
    const refs = templateReferences(template).map((ref) => ({ ref, owner: ref.owner === null ? owner : parseOwner(ref.owner) }));
    for (const r of refs)
      await this.#allow(actor, ctx, "secrets:reveal", r.owner, { ...event, details: { referenced: formatOwner(r.owner) } });
    const revealed = await this.#secrets.revealMany(actor, ctx, {
      refs: refs.map((r) => ({
        owner: formatOwner(r.owner),
        key: r.ref.key,
        ...(r.ref.version === null ? {} : { version: r.ref.version }),
      })),
      reason: input.reason ?? `render ${name}`,
      via: `template ${formatOwner(owner)}/${name}`,
      missing: (i) => {
        const r = refs[i];
        if (r === undefined || r.ref.fallback !== null) return null;
        const what = referenceName(r.ref, formatOwner(r.owner));
        return new CofferError("NOT_FOUND", `template: ${what} does not exist`, { field: "template", reference: what });
      },
    });
    const byRef = new Map<SecretReference, Uint8Array | null>();
    try {
      refs.forEach((r, i) => {
        const v = revealed[i] ?? null;
        byRef.set(r.ref, v === null ? null : v.value.reveal());
        v?.value.wipe();
      });
      const bytes = renderTemplate(template, format, (ref) => {
        const o = ref.owner === null ? owner : parseOwner(ref.owner);
        const v = byRef.get(ref) ?? null;
        return { owner: formatOwner(o), value: v === null ? null : Uint8Array.from(v) };
      });
      return { bytes, format, references: refs.length };
    } finally {
      for (const v of byRef.values()) v?.fill(0);
      for (const r of revealed) r?.value.wipe();
    }
  }

  #parse(input: TemplateRef): { owner: Owner; name: string } {
    return { owner: parseOwner(input.owner), name: parseWith(TemplateName, input.name, "name") };
  }

  #cols(owner: Owner): { owner_type: string; owner_id: string } {
    return { owner_type: owner.kind, owner_id: ownerIdColumn(owner) };
  }

  #colsOf(owner: Owner): { ownerType: string; ownerId: string } {
    return { ownerType: owner.kind, ownerId: ownerIdColumn(owner) };
  }

  async #find(owner: Owner, name: string): Promise<templateRepo.TemplateRow> {
    const row = await this.#store.read(ownerScope(owner), (db) => templateRepo.findTemplate(db, this.#colsOf(owner), name));
    if (row === null) throw notFound(owner, name);
    return row;
  }

  #event(action: string, owner: Owner, name: string | null): AuditInput {
    return { action, owner, key: name, version: null, reason: null, outcome: "denied" };
  }

  #allow(actor: Actor, ctx: RequestContext, permission: Permission, owner: Owner, denied: AuditInput): Promise<void> {
    return new AccessGate(this.#audit).require(actor, ctx, permission, owner, denied);
  }
}

function notFound(owner: Owner, name: string): CofferError {
  return new CofferError("NOT_FOUND", `no template ${name} for ${formatOwner(owner)}`, { owner: formatOwner(owner), template: name });
}

function toView(owner: Owner, row: templateRepo.TemplateRow, references: number | null): TemplateView {
  return {
    owner: formatOwner(owner),
    name: row.name,
    format: templateFormatFromName(row.name),
    references,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    updatedBy: row.updated_by,
  };
}
