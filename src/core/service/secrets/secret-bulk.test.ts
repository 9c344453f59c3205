import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CofferError } from "../../errors/index.ts";
import { Secret } from "../../secret/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../test/fixtures/temp-core.ts";
import { LOCAL_CONTEXT, LOCAL_CONTEXT as CTX, type TokenActor } from "../access/actor.ts";
import { internals } from "../internals.ts";

const code = (c: string) => (e: unknown) => e instanceof CofferError && e.code === c;
const val = (s: string) => Secret.fromString(s);

/** A value that passes validation but breaks when sealed: a failure in the middle of the transaction. */
function explodingValue(): Secret {
  const s = val("boom");
  Object.defineProperty(s, "reveal", {
    value: () => {
      throw new Error("storage fault in the middle of an import");
    },
  });
  return s;
}

for (const dialect of DIALECTS) {
  describe(`SecretsService.importMany (${dialect})`, () => {
    let t: TempCore;
    before(async () => {
      t = await tempCore(dialect);
    });
    after(async () => {
      await t.cleanup();
    });
    const live = async (owner: string): Promise<string[]> =>
      (await t.core.secrets.list(ACTOR, LOCAL_CONTEXT, { owner })).items.map((v) => `${v.key}@${String(v.version)}`);

    it("replaces the owner's secrets with exactly the given keys, in one transaction", async () => {
      for (const k of ["KEEP", "DROP"]) await t.core.secrets.set(ACTOR, CTX, { owner: "project/r", key: k, value: val(k) });
      const s = await t.core.secrets.importMany(ACTOR, CTX, {
        owner: "project/r",
        mode: "replace",
        entries: [
          { key: "KEEP", value: val("kept-2") },
          { key: "NEW", value: val("n"), meta: { team: "x" } },
        ],
      });
      assert.deepEqual(s.deleted, ["DROP"]);
      assert.equal(s.updated, 1);
      assert.deepEqual(await live("project/r"), ["KEEP@2", "NEW@1"]);
      const all = await t.core.secrets.revealAll(ACTOR, CTX, { owner: "project/r", reason: "check" });
      assert.equal(all.get("KEEP")?.revealText(), "kept-2");
    });

    it("leaves the owner unchanged when an entry fails in the middle of a replace", async () => {
      for (const k of ["A", "B", "C"]) await t.core.secrets.set(ACTOR, CTX, { owner: "project/atomic", key: k, value: val(k) });
      const before = await live("project/atomic");
      await assert.rejects(
        t.core.secrets.importMany(ACTOR, CTX, {
          owner: "project/atomic",
          mode: "replace",
          entries: [
            { key: "A", value: val("a2") },
            { key: "D", value: val("d") },
            { key: "E", value: explodingValue() },
          ],
        }),
        /storage fault/,
      );
      assert.deepEqual(await live("project/atomic"), before);
      const events = await internals(t.core).audit.list({ owner: null, action: "secret.import", afterSeq: 0, limit: 1000 });
      const forOwner = events.filter((e) => e.owner === "project/atomic");
      assert.deepEqual(
        forOwner.map((e) => e.outcome),
        ["error"],
      );
    });

    it("names the entry of a bad key and writes nothing", async () => {
      await assert.rejects(
        t.core.secrets.importMany(ACTOR, CTX, {
          owner: "project/bad",
          mode: "merge",
          entries: [
            { key: "GOOD", value: val("g"), where: "line 1" },
            { key: "bad key", value: val("b"), where: "line 2" },
          ],
        }),
        (e: unknown) => code("INVALID_INPUT")(e) && /^line 2: key: /.test((e as Error).message),
      );
      await assert.rejects(
        t.core.secrets.importMany(ACTOR, CTX, {
          owner: "project/bad",
          mode: "merge",
          entries: [
            { key: "K", value: val("1"), where: "line 1" },
            { key: "K", value: val("2"), where: "line 4" },
          ],
        }),
        /line 4: key: K is also at line 1/,
      );
      assert.deepEqual(await live("project/bad"), []);
    });

    it("refuses a caller without secrets:write on the owner, audited", async () => {
      const reader: TokenActor = {
        kind: "token",
        tokenId: "t_r",
        name: "r",
        scopes: ["secrets:read"],
        owners: ["project/*"],
        interactive: false,
        authenticatedAt: new Date().toISOString(),
      };
      await assert.rejects(
        t.core.secrets.importMany(reader, CTX, { owner: "project/x", mode: "merge", entries: [{ key: "K", value: val("v") }] }),
        code("SCOPE_DENIED"),
      );
    });
  });
}
