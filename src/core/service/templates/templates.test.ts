import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parse as parseToml } from "smol-toml";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../test/fixtures/temp-core.ts";
import { Secret } from "../../secret/index.ts";
import { LOCAL_CONTEXT as CTX, type TokenActor } from "../access/actor.ts";
import { internals } from "../internals.ts";

const host: TokenActor = {
  kind: "token",
  tokenId: "t_host",
  name: "host-acme",
  scopes: ["secrets:read", "secrets:reveal"],
  owners: ["project/acme"],
  interactive: false,
  authenticatedAt: new Date().toISOString(),
};
const writer: TokenActor = { ...host, tokenId: "t_writer", name: "writer", scopes: ["secrets:write"] };
const PASSWORD = "p\"w\\ \n grüße '$x";

for (const dialect of DIALECTS) {
  describe(`TemplateService (${dialect})`, () => {
    let t: TempCore;
    before(async () => {
      t = await tempCore(dialect);
      const s = t.core.secrets;
      await s.set(ACTOR, CTX, { owner: "project/acme", key: "RUSTIC_PASSWORD", value: Secret.fromString(PASSWORD) });
      await s.set(ACTOR, CTX, { owner: "project/other", key: "SECRET", value: Secret.fromString("other-tenant") });
      await t.core.templates.put(ACTOR, CTX, {
        owner: "project/acme",
        name: "backup.toml",
        text: 'password = {{ secret "RUSTIC_PASSWORD" }}\nregion = {{ secret "REGION" default="eu" }}\n',
      });
      await t.core.templates.put(ACTOR, CTX, {
        owner: "project/acme",
        name: "steal.toml",
        text: 'mine = {{ secret "RUSTIC_PASSWORD" }}\ntheirs = {{ secret "project/other" "SECRET" }}\n',
      });
      await t.core.templates.put(ACTOR, CTX, { owner: "project/other", name: "other.env", text: 'S={{ secret "SECRET" }}\n' });
    });
    after(async () => {
      await t.cleanup();
    });

    it("renders for a host token scoped to its project, each reference an audited reveal", async () => {
      const r = await t.core.templates.render(host, CTX, { owner: "project/acme", name: "backup.toml" });
      assert.deepEqual({ ...parseToml(Buffer.from(r.bytes).toString("utf8")) }, { password: PASSWORD, region: "eu" });
      const events = await internals(t.core).audit.list({ owner: null, action: "secret.reveal", afterSeq: 0, limit: 1000 });
      const mine = events.filter((e) => e.actor === "token:t_host");
      assert.deepEqual(
        mine.map((e) => [e.key, e.reason, e.outcome]),
        [["RUSTIC_PASSWORD", "render backup.toml", "success"]],
      );
    });

    it("refuses a template that reaches another owner: SCOPE_DENIED, nothing revealed, the denial audited", async () => {
      const before = (await internals(t.core).audit.list({ owner: null, action: null, afterSeq: 0, limit: 10_000 })).length;
      await assert.rejects(t.core.templates.render(host, CTX, { owner: "project/acme", name: "steal.toml" }), { code: "SCOPE_DENIED" });
      const after = (await internals(t.core).audit.list({ owner: null, action: null, afterSeq: 0, limit: 10_000 })).slice(before);
      assert.deepEqual(
        after.map((e) => [e.action, e.outcome]),
        [["template.render", "denied"]],
      );
      await assert.rejects(t.core.templates.render(host, CTX, { owner: "project/other", name: "other.env" }), { code: "SCOPE_DENIED" });
      await assert.rejects(t.core.templates.get(host, CTX, { owner: "project/other", name: "other.env" }), { code: "SCOPE_DENIED" });
      await assert.rejects(t.core.templates.list(host, CTX, { owner: "project/other" }), { code: "SCOPE_DENIED" });
    });

    it("needs secrets:write to store or delete, secrets:reveal to render", async () => {
      await assert.rejects(t.core.templates.put(host, CTX, { owner: "project/acme", name: "x.toml", text: "" }), { code: "SCOPE_DENIED" });
      await assert.rejects(t.core.templates.delete(host, CTX, { owner: "project/acme", name: "backup.toml" }), { code: "SCOPE_DENIED" });
      await assert.rejects(t.core.templates.render(writer, CTX, { owner: "project/acme", name: "backup.toml" }), { code: "SCOPE_DENIED" });
      const stored = await t.core.templates.put(writer, CTX, { owner: "project/acme", name: "w.env", text: "A=1\n" });
      assert.equal(stored.updatedBy, "token:t_writer");
    });

    it("returns the text, never a value, and lists by name", async () => {
      const got = await t.core.templates.get(host, CTX, { owner: "project/acme", name: "backup.toml" });
      assert.match(got.text, /\{\{ secret "RUSTIC_PASSWORD" \}\}/);
      assert.equal(got.references, 2);
      assert.equal(got.format, "toml");
      const names = (await t.core.templates.list(host, CTX, { owner: "project/acme" })).map((v) => v.name);
      assert.deepEqual(names, ["backup.toml", "steal.toml", "w.env"]);
    });

    it("refuses a bad name or an unparsable template with nothing stored", async () => {
      await assert.rejects(t.core.templates.put(ACTOR, CTX, { owner: "project/acme", name: "../etc", text: "" }), {
        code: "INVALID_INPUT",
      });
      await assert.rejects(t.core.templates.put(ACTOR, CTX, { owner: "project/acme", name: "bad.toml", text: "{{ secret }}" }), {
        code: "INVALID_INPUT",
        message: /template:1:1/,
      });
      await assert.rejects(t.core.templates.get(ACTOR, CTX, { owner: "project/acme", name: "bad.toml" }), { code: "NOT_FOUND" });
    });

    it("fails a render naming a missing reference, before revealing anything", async () => {
      await t.core.templates.put(ACTOR, CTX, { owner: "project/acme", name: "missing.json", text: '{"a": {{ secret "NOPE" }}}' });
      await assert.rejects(t.core.templates.render(ACTOR, CTX, { owner: "project/acme", name: "missing.json" }), {
        code: "NOT_FOUND",
        message: /project\/acme NOPE \(line 1\) does not exist/,
      });
    });
  });
}
