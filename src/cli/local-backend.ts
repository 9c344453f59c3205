import { parseOwner } from "../core/model/index.ts";
import { LOCAL_CONTEXT, parseAnchor, parseRetention, type Actor, type Core, type SecretView } from "../core/service/index.ts";
import type { Backend } from "./backend.ts";

/**
 * Local mode: the store and keys opened in this process, acting as the operating-system user.
 * Every call local mode makes into the core is in this file.
 */
export function localBackend(core: Core, actor: Actor): Backend {
  const ctx = LOCAL_CONTEXT;
  return {
    mode: "local",
    set: (i) => core.secrets.set(actor, ctx, i),
    get: (r) => core.secrets.get(actor, ctx, r),
    reveal: (r) => core.secrets.reveal(actor, ctx, r),
    unset: (r) => core.secrets.unset(actor, ctx, r),
    listAll: async (q) => {
      const all: SecretView[] = [];
      let cursor: number | null = 0;
      while (cursor !== null) {
        const page: { items: readonly SecretView[]; nextCursor: number | null } = await core.secrets.list(actor, ctx, { ...q, cursor });
        all.push(...page.items);
        cursor = page.nextCursor;
      }
      return all;
    },
    history: (r) => core.secrets.history(actor, ctx, r),
    rotate: (r) => core.secrets.rotate(actor, ctx, r),
    generate: (i) => core.generator.generate(actor, ctx, i),
    regenerate: (r) => core.generator.regenerate(actor, ctx, r),
    templates: {
      put: (t) => core.templates.put(actor, ctx, t),
      get: (t) => core.templates.get(actor, ctx, t),
      list: (owner) => core.templates.list(actor, ctx, { owner }),
      delete: (t) => core.templates.delete(actor, ctx, t),
      render: async (t) => (await core.templates.render(actor, ctx, t)).bytes,
    },
    revealAll: (q) => core.secrets.revealAll(actor, ctx, q),
    auditList: async (f) => (await core.audit.list(actor, ctx, { ...f, owner: f.owner === null ? null : parseOwner(f.owner) })).events,
    auditVerify: (anchor) => core.audit.verify(actor, ctx, { anchor: anchor === null ? null : parseAnchor(anchor) }),
    // Lazy: only these two need the age and YAML code.
    importSecrets: async (r) => (await import("./transfer.ts")).importLocal(core, actor, r),
    exportBundle: async (r) => (await import("./transfer.ts")).exportLocal(core, actor, r),
    checkValues: (q) => core.admin.valueCheck.check(actor, ctx, q),
    tokens: {
      create: (t) => core.tokens.create(actor, ctx, t),
      list: () => core.tokens.list(actor, ctx),
      revoke: (id) => core.tokens.revoke(actor, ctx, id),
    },
    keys: {
      // In the API's shape (its field order too), so --json prints the same in both modes. The
      // contract (zod and every route's schema) is loaded here only: `coffer run` never needs it.
      status: async () => (await import("../contract/index.ts")).KeyStatusDto.parse(await core.admin.status.get(actor, ctx)),
      rotate: ({ resume, backupRetentionMs, ...r }) =>
        core.admin.rotation.rotate(actor, ctx, {
          ...r,
          ...(backupRetentionMs === undefined ? {} : { backupRetentionMs }),
          ...(resume ? { resume: true } : {}),
        }),
      rekey: (owner) => core.admin.rekey.rekey(actor, ctx, { owner }),
      retire: (kid) => core.admin.rotation.retire(actor, ctx, { kid }),
    },
    erase: ({ backupRetention, ...e }) =>
      core.admin.erase.erase(actor, ctx, {
        ...e,
        ...(backupRetention === undefined ? {} : { backupRetentionMs: parseRetention(backupRetention, "--backup-retention") }),
      }),
  };
}
