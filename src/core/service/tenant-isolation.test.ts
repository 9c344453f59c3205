import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CofferError } from "../errors/index.ts";
import { parseOwner } from "../model/index.ts";
import { Secret } from "../secret/index.ts";
import { secretRepo } from "../store/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../test/fixtures/temp-core.ts";
import { keepVisible, visibleOwners } from "./access.ts";
import { actorLabel, LOCAL_CONTEXT as CTX, type Actor, type TokenActor } from "./actor.ts";
import { keyStatus } from "./key-status.ts";
import { SecretsService, type ListInput } from "./secrets-service.ts";

/**
 * Tenant isolation enforced by the service on every path and every dialect (issue 10, point 1):
 * a token scoped to `project/acme` sees nothing of other owners, whatever it asks for. On
 * PostgreSQL row-level security would also hide them; these tests hold on SQLite too, where
 * the service's own filter is the only wall, and the mutation check at the end proves that.
 */
const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;
const CANARY = "FOREIGN-META-canary-7f3a";
const OWN = "project/acme";
/** Every secret seeded, by owner; `*_GONE` ones are deleted afterwards. */
const SEED: Readonly<Record<string, readonly string[]>> = {
  "project/acme": ["A_ONE", "A_TWO", "SHARED_NAME", "A_GONE"],
  // Shares a prefix with acme's id: a prefix or LIKE match would leak it.
  "project/acme2": ["X_ACME2"],
  "project/other": ["O_ONE", "SHARED_NAME", "O_GONE"],
  "user/alice": ["U_ONE"],
  system: ["S_ONE"],
};

type Item = { readonly owner: string; readonly key: string };
/** The items of a page that belong to owners outside `allowed` (exact owners or `type/*`). */
function foreignIn(items: readonly Item[], allowed: readonly string[] = [OWN]): string[] {
  return items
    .filter((i) => !allowed.some((a) => a === i.owner || (a.endsWith("/*") && i.owner.startsWith(a.slice(0, -1)))))
    .map((i) => `${i.owner}:${i.key}`);
}

for (const dialect of DIALECTS) {
  describe(`tenant isolation in the service (${dialect})`, () => {
    let t: TempCore;
    let acme: TokenActor;
    let projects: TokenActor;
    let sys: TokenActor;
    let imp: TokenActor;
    let admin: TokenActor;
    const token = async (owners: string[], scopes: string[]): Promise<TokenActor> => {
      const made = await t.core.tokens.create(ACTOR, CTX, { name: `t ${owners.join(" ").replace(/[/*]/g, "_")}`, scopes, owners });
      return t.core.tokens.authenticate(made.token.revealText());
    };
    const all = ["secrets:read", "secrets:write", "secrets:reveal", "audit:read"];
    /** Every page of a listing, following cursors. */
    const listAll = async (actor: Actor, input: ListInput, limit = 2, svc = t.core.secrets): Promise<Item[]> => {
      const out: Item[] = [];
      let cursor: number | undefined;
      for (;;) {
        const page = await svc.list(actor, { ...input, limit, ...(cursor === undefined ? {} : { cursor }) });
        out.push(...page.items);
        if (page.nextCursor === null) return out;
        cursor = page.nextCursor;
      }
    };

    before(async () => {
      t = await tempCore(dialect, { COFFER_RATE_LIMIT_REVEAL: "off", COFFER_RATE_LIMIT_WRITE: "off" });
      for (const [owner, keys] of Object.entries(SEED)) {
        for (const key of keys) {
          await t.core.secrets.set(ACTOR, CTX, { owner, key, value: Secret.fromString(`v-${key}`), meta: { note: `${CANARY}-${owner}` } });
        }
        for (const key of keys.filter((k) => k.endsWith("_GONE"))) await t.core.secrets.unset(ACTOR, CTX, { owner, key });
      }
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/imp", key: "I_ONE", value: Secret.fromString("i") });
      acme = await token([OWN], all);
      projects = await token(["project/*"], ["secrets:read", "audit:read"]);
      sys = await token(["system"], ["secrets:read", "audit:read"]);
      imp = await token(["project/imp"], ["secrets:write"]);
      admin = await token([OWN], ["admin"]);
      // Audit events about other owners, made by their own actors.
      await t.core.secrets.reveal(ACTOR, CTX, { owner: "project/other", key: "O_ONE", reason: "foreign event" });
      await t.core.secrets.reveal(acme, CTX, { owner: OWN, key: "A_ONE", reason: "own event" });
    });
    after(async () => {
      await t.cleanup();
    });

    const FILTERS: readonly (readonly [string, ListInput])[] = [
      ["no filter", {}],
      ["ownerType=project", { ownerType: "project" }],
      ["ownerType=user", { ownerType: "user" }],
      ["ownerType=system", { ownerType: "system" }],
      ["prefix=O_ (a foreign-only prefix)", { prefix: "O_" }],
      ["prefix=SHARED (a name both owners have)", { prefix: "SHARED" }],
      ["deleted=true", { includeDeleted: true }],
      ["deleted=true, prefix=O_", { includeDeleted: true, prefix: "O_" }],
      ["ownerType=project, deleted=true", { ownerType: "project", includeDeleted: true }],
      [`owner=${OWN}`, { owner: OWN }],
      [`owner=${OWN}, deleted=true`, { owner: OWN, includeDeleted: true }],
    ];

    it("a project/acme token lists only project/acme's secrets under every filter, one page or many", async () => {
      for (const [label, input] of FILTERS) {
        for (const limit of [1, 1000]) {
          const items = await listAll(acme, input, limit);
          assert.deepEqual(foreignIn(items), [], `${label} (limit ${String(limit)})`);
          assert.ok(!JSON.stringify(items).includes(`${CANARY}-project/other`), `${label}: no foreign metadata`);
        }
      }
      const keys = async (input: ListInput): Promise<string[]> => (await listAll(acme, input)).map((i) => i.key).sort();
      assert.deepEqual(await keys({}), ["A_ONE", "A_TWO", "SHARED_NAME"]);
      assert.deepEqual(await keys({ includeDeleted: true }), ["A_GONE", "A_ONE", "A_TWO", "SHARED_NAME"]);
      assert.deepEqual(await keys({ prefix: "O_" }), []);
      assert.deepEqual(await keys({ ownerType: "user" }), []);
    });

    it("a type pattern (project/*) lists every project but no user or system secret; a system token only system", async () => {
      for (const [label, input] of FILTERS.filter(([, i]) => i.owner === undefined)) {
        assert.deepEqual(foreignIn(await listAll(projects, input), ["project/*"]), [], `project/*: ${label}`);
        assert.deepEqual(foreignIn(await listAll(sys, input), ["system"]), [], `system: ${label}`);
      }
      const owners = new Set((await listAll(projects, {})).map((i) => i.owner));
      assert.deepEqual([...owners].sort(), ["project/acme", "project/acme2", "project/imp", "project/other"]);
      assert.deepEqual(
        (await listAll(sys, {})).map((i) => `${i.owner}:${i.key}`),
        ["system:S_ONE"],
      );
    });

    it("naming a foreign owner in a list is SCOPE_DENIED, and the refusal is audited", async () => {
      for (const owner of ["project/other", "project/acme2", "user/alice", "system"]) {
        await assert.rejects(t.core.secrets.list(acme, { owner }), code("SCOPE_DENIED"), owner);
      }
      const denied = (await t.core.audit.list({ owner: null, action: "secret.list", afterSeq: 0, limit: 1000 })).filter(
        (e) => e.outcome === "denied" && e.actor === `token:${acme.tokenId}`,
      );
      assert.equal(denied.length, 4);
    });

    it("a cursor is only a position: one taken from an admin's page, or pointing at a foreign row, widens nothing", async () => {
      const adminRows = await listAll(admin, { includeDeleted: true }, 1000);
      assert.ok(foreignIn(adminRows).length > 0, "the admin sees every owner (the audited all path)");
      // Every position an admin page could hand out, replayed by the scoped token.
      const ids = await t.core.store.read({ kind: "all", why: "test: row ids" }, (db) =>
        secretRepo.listSecrets(db, {
          visible: null,
          owner: null,
          ownerType: null,
          prefix: "",
          includeDeleted: true,
          afterId: 0,
          limit: 1000,
        }),
      );
      for (const row of ids) {
        for (const includeDeleted of [false, true]) {
          const page = await t.core.secrets.list(acme, { cursor: row.id - 1, includeDeleted, limit: 5 });
          assert.deepEqual(foreignIn(page.items), [], `cursor ${String(row.id - 1)}`);
        }
      }
      const far = await t.core.secrets.list(acme, { cursor: Number.MAX_SAFE_INTEGER });
      assert.deepEqual([far.items.length, far.nextCursor], [0, null]);
      for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, Number.NaN]) {
        await assert.rejects(t.core.secrets.list(acme, { cursor: bad }), code("INVALID_INPUT"), String(bad));
      }
    });

    it("history, a version, reveal, export, run and share: own owner allowed, foreign owner SCOPE_DENIED", async () => {
      assert.equal((await t.core.secrets.history(acme, { owner: OWN, key: "A_ONE" })).length, 1);
      assert.equal((await t.core.secrets.get(acme, { owner: OWN, key: "A_ONE", version: 1 })).key, "A_ONE");
      const own = await t.core.secrets.exportValues(acme, CTX, { owner: OWN, reason: "isolation" });
      assert.deepEqual(own.map((e) => e.key).sort(), ["A_ONE", "A_TWO", "SHARED_NAME"]);
      for (const e of own) e.value.wipe();
      const link = await t.core.secrets.share(acme, CTX, { owner: OWN, key: "A_ONE", reason: "isolation" });
      link.token.wipe();
      for (const owner of ["project/other", "project/acme2", "user/alice", "system"]) {
        const key = SEED[owner]?.[0] ?? "";
        await assert.rejects(t.core.secrets.history(acme, { owner, key }), code("SCOPE_DENIED"), `history ${owner}`);
        await assert.rejects(t.core.secrets.get(acme, { owner, key, version: 1 }), code("SCOPE_DENIED"), `version ${owner}`);
        await assert.rejects(t.core.secrets.reveal(acme, CTX, { owner, key, reason: "x" }), code("SCOPE_DENIED"), `reveal ${owner}`);
        await assert.rejects(t.core.secrets.exportValues(acme, CTX, { owner, reason: "x" }), code("SCOPE_DENIED"), `export ${owner}`);
        await assert.rejects(t.core.secrets.revealAll(acme, CTX, { owner, reason: "x" }), code("SCOPE_DENIED"), `run ${owner}`);
        await assert.rejects(t.core.secrets.share(acme, CTX, { owner, key, reason: "x" }), code("SCOPE_DENIED"), `share ${owner}`);
      }
      // History of a deleted foreign secret too (history includes deleted secrets).
      await assert.rejects(t.core.secrets.history(acme, { owner: "project/other", key: "O_GONE" }), code("SCOPE_DENIED"));
    });

    it("import: a foreign owner is SCOPE_DENIED with nothing written; replace on the own owner leaves other owners alone", async () => {
      const entries = [{ key: "NEW", value: Secret.fromString("n") }];
      for (const owner of ["project/other", "project/acme"]) {
        await assert.rejects(t.core.secrets.authorizeImport(imp, CTX, owner), code("SCOPE_DENIED"), owner);
        await assert.rejects(t.core.secrets.importMany(imp, CTX, { owner, mode: "replace", entries }), code("SCOPE_DENIED"), owner);
      }
      const r = await t.core.secrets.importMany(imp, CTX, { owner: "project/imp", mode: "replace", entries });
      assert.deepEqual([r.imported, r.deleted], [1, ["I_ONE"]]);
      const live = (await listAll(ACTOR, {}, 1000)).map((i) => `${i.owner}:${i.key}`);
      for (const [owner, keys] of Object.entries(SEED)) {
        for (const key of keys.filter((k) => !k.endsWith("_GONE"))) assert.ok(live.includes(`${owner}:${key}`), `${owner}:${key} kept`);
      }
      assert.ok(!live.includes("project/other:NEW") && !live.includes("project/acme:NEW"));
    });

    it("audit listing: a scoped auditor gets only its owners' events, never ownerless ones, on every page", async () => {
      for (const limit of [1, 1000]) {
        let afterSeq = 0;
        const seen: { owner: string | null; seq: number }[] = [];
        for (;;) {
          const page = await t.core.audit.listAs(acme, CTX, { owner: null, action: null, afterSeq, limit });
          seen.push(...page.events);
          if (page.nextCursor === null) break;
          // The cursor is the last event this caller may see, not a foreign one's position.
          assert.equal(page.nextCursor, page.events.at(-1)?.seq);
          afterSeq = page.nextCursor;
        }
        assert.ok(seen.length > 0);
        assert.deepEqual(
          seen.filter((e) => e.owner !== OWN),
          [],
          `limit ${String(limit)}`,
        );
      }
      const mine = await t.core.audit.listAs(acme, CTX, { owner: null, action: "secret.reveal", afterSeq: 0, limit: 1000 });
      assert.ok(mine.events.some((e) => e.key === "A_ONE"));
      assert.ok(!JSON.stringify(mine).includes("O_ONE"));
      await assert.rejects(
        t.core.audit.listAs(acme, CTX, { owner: parseOwner("project/other"), action: null, afterSeq: 0, limit: 10 }),
        code("SCOPE_DENIED"),
      );
      const projectEvents = await t.core.audit.listAs(projects, CTX, { owner: null, action: null, afterSeq: 0, limit: 1000 });
      assert.ok(projectEvents.events.some((e) => e.owner === "project/other"));
      assert.deepEqual(
        projectEvents.events.filter((e) => e.owner === null || !e.owner.startsWith("project/")),
        [],
      );
      const sysEvents = await t.core.audit.listAs(sys, CTX, { owner: null, action: null, afterSeq: 0, limit: 1000 });
      assert.deepEqual(
        sysEvents.events.filter((e) => e.owner !== "system"),
        [],
      );
      // Admin: every owner and the ownerless events (token.create, the "all" listings).
      const adminEvents = await t.core.audit.listAs(admin, CTX, { owner: null, action: null, afterSeq: 0, limit: 1000 });
      assert.ok(adminEvents.events.some((e) => e.owner === null && e.action === "token.create"));
      assert.ok(adminEvents.events.some((e) => e.owner === "project/other"));
      await assert.rejects(t.core.audit.listAs(acme, CTX, { owner: null, action: null, afterSeq: -1, limit: 10 }), code("INVALID_INPUT"));
    });

    it("audit listing newest first, by time and actor: still only the auditor's owners, on every page", async () => {
      const everything = await t.core.audit.list({ owner: null, action: null, afterSeq: 0, limit: 100_000 });
      const first = everything[0];
      const last = everything.at(-1);
      assert.ok(first !== undefined && last !== undefined);
      const window = { since: new Date(first.at), until: new Date(new Date(last.at).getTime() + 1) };
      for (const limit of [1, 1000]) {
        let beforeSeq: number | null = null;
        const seen: { owner: string | null; seq: number }[] = [];
        for (;;) {
          const page = await t.core.audit.listAs(acme, CTX, {
            owner: null,
            action: null,
            afterSeq: 0,
            beforeSeq,
            order: "desc",
            limit,
            ...window,
          });
          seen.push(...page.events);
          if (page.nextCursor === null) break;
          beforeSeq = page.nextCursor;
        }
        const seqs = seen.map((e) => e.seq);
        assert.deepEqual(
          seqs,
          [...seqs].sort((a, b) => b - a),
          "newest first",
        );
        assert.deepEqual(
          seen.filter((e) => e.owner !== OWN),
          [],
          `limit ${String(limit)}`,
        );
        // The same events as the oldest-first listing, in reverse.
        const asc = await t.core.audit.listAs(acme, CTX, { owner: null, action: null, afterSeq: 0, limit: 100_000 });
        assert.deepEqual(seqs, asc.events.map((e) => e.seq).reverse());
      }
      const ACTOR_TEXT = actorLabel(ACTOR);
      // Another actor's events through the actor filter: none of a foreign owner's.
      const byAdminActor = await t.core.audit.listAs(acme, CTX, { owner: null, action: null, afterSeq: 0, limit: 1000, actor: ACTOR_TEXT });
      assert.deepEqual(
        byAdminActor.events.filter((e) => e.owner !== OWN),
        [],
      );
      assert.ok(byAdminActor.events.length > 0);
      assert.ok(byAdminActor.events.every((e) => e.actor === ACTOR_TEXT));
      const none = await t.core.audit.listAs(acme, CTX, { owner: null, action: null, afterSeq: 0, limit: 1000, until: new Date(first.at) });
      assert.deepEqual(none.events, []);
    });

    it("listing across owners is the audited admin path; key status (admin only) names no owner", async () => {
      await t.core.secrets.list(admin, {});
      const events = await t.core.audit.list({ owner: null, action: "secret.list", afterSeq: 0, limit: 1000 });
      assert.ok(events.some((e) => e.actor === `token:${admin.tokenId}` && e.details.scope === "all" && e.outcome === "success"));
      // A scoped token's listing is not the "all" path: no such event for it.
      assert.ok(!events.some((e) => e.actor === `token:${acme.tokenId}` && e.details.scope === "all"));
      const status = JSON.stringify(await keyStatus(t.core));
      for (const owner of Object.keys(SEED)) assert.ok(!status.includes(owner), `key status names ${owner}`);
      await assert.rejects(t.core.tokens.authorizeAdmin(acme, CTX, "admin.encryption.status"), code("SCOPE_DENIED"));
    });

    /*
     * Mutation check. The service's whole listing filter is one function, `visibleOwners`
     * (access.ts), injected through the internal `visibleOwners` seam of SecretsService. Here a
     * second service shares this core's store, keys and audit log but has that function
     * replaced by "every owner" — the code as it was before the fix. The same `foreignIn`
     * assertion the tests above rely on must then find foreign rows on SQLite (so those tests
     * would fail without the filter), while on PostgreSQL row-level security still hides them
     * (the second, independent wall). The real service, same store, same inputs: nothing.
     */
    it("mutation check: without the service's owner filter, a scoped listing leaks on SQLite (and only RLS holds on PostgreSQL)", async () => {
      const mutated = new SecretsService({
        store: t.core.store,
        keys: t.core.keys,
        audit: t.core.audit,
        logger: t.logger,
        visibleOwners: () => null,
      });
      for (const [label, input] of FILTERS.filter(([, i]) => i.owner === undefined && i.ownerType !== "system")) {
        const leaked = foreignIn(await listAll(acme, input, 1000, mutated));
        const real = foreignIn(await listAll(acme, input, 1000));
        assert.deepEqual(real, [], `real service, ${label}`);
        if (dialect === "sqlite") assert.ok(leaked.length > 0, `without the filter SQLite leaks (${label}): the test above would fail`);
        else assert.deepEqual(leaked, [], `PostgreSQL RLS still hides foreign rows (${label})`);
      }
    });

    it("defence in depth: rows a store would wrongly return are dropped by the service's second check", async () => {
      // Every row, read on the administrative scope with no owner filter: what a broken query would return.
      const raw = await t.core.store.read({ kind: "all", why: "test: a store that forgot the filter" }, (db) =>
        secretRepo.listSecrets(db, {
          visible: null,
          owner: null,
          ownerType: null,
          prefix: "",
          includeDeleted: true,
          afterId: 0,
          limit: 1000,
        }),
      );
      const visible = visibleOwners(acme);
      assert.deepEqual(visible, [OWN]);
      assert.ok(raw.some((r) => r.owner_id !== "acme"));
      const kept = keepVisible(visible, raw);
      assert.deepEqual([...new Set(kept.map((r) => `${r.owner_type}/${r.owner_id}`))], [OWN]);
      assert.equal(kept.length, raw.filter((r) => r.owner_type === "project" && r.owner_id === "acme").length);
      // The query's own filter, independent of the unit of work's scope (RLS is off on this "all" read).
      const filtered = await t.core.store.read({ kind: "all", why: "test: the query filter alone" }, (db) =>
        secretRepo.listSecrets(db, { visible, owner: null, ownerType: null, prefix: "", includeDeleted: true, afterId: 0, limit: 1000 }),
      );
      assert.deepEqual(filtered, kept);
      const none = await t.core.store.read({ kind: "all", why: "test: no patterns" }, (db) =>
        secretRepo.listSecrets(db, {
          visible: [],
          owner: null,
          ownerType: null,
          prefix: "",
          includeDeleted: true,
          afterId: 0,
          limit: 1000,
        }),
      );
      assert.deepEqual(none, []);
      assert.deepEqual(visibleOwners(admin), null);
      assert.deepEqual(visibleOwners({ kind: "share", linkId: "s_x" }), []);
    });
  });
}
