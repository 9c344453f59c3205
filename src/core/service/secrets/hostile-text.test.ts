import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CofferError } from "../../errors/index.ts";
import { Secret } from "../../secret/index.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../../test/fixtures/temp-core.ts";
import { LOCAL_CONTEXT, LOCAL_CONTEXT as CTX } from "../access/actor.ts";
import { internals } from "../internals.ts";

const val = (s: string) => Secret.fromString(s);
const invalid = (field: string) => (e: unknown) => {
  assert.ok(e instanceof CofferError, String(e));
  assert.equal(e.code, "INVALID_INPUT");
  assert.equal(e.details["field"], field);
  return true;
};

/** Text that would forge an audit line, drive the terminal or reorder what is displayed. */
const HOSTILE: readonly (readonly [string, string])[] = [
  ["a newline forging an audit line", "ok\n42  2026-01-01T00:00:00Z  local:root  secret.reveal"],
  ["a carriage return", "visible\rhidden"],
  ["an ANSI clear-screen escape", "x\x1b[2J\x1b[H"],
  ["an OSC 8 hyperlink escape", "\x1b]8;;https://evil.invalid\x07click\x1b]8;;\x07"],
  ["a tab", "a\tb"],
  ["a NUL", "a\0b"],
  ["DEL", "a\x7fb"],
  ["a C1 CSI (U+009B)", "a\u009b2Jb"],
  ["a right-to-left override (U+202E)", "approved \u202Edenied"],
  ["a right-to-left isolate (U+2067)", "a\u2067b\u2069"],
  ["a left-to-right mark (U+200E)", "a\u200eb"],
  ["a line separator (U+2028)", "a\u2028b"],
];

/** Reasons that say nothing a person can read: refused like whitespace. */
const INVISIBLE: readonly (readonly [string, string])[] = [
  ["spaces", "   "],
  ["zero-width spaces", "\u200b\u200b"],
  ["zero-width joiners and a word joiner", "\u200d\u2060"],
  ["a byte-order mark", "\ufeff"],
  ["a soft hyphen (format)", "\u00ad"],
  ["a Hangul filler", "\u3164"],
  ["no-break and ideographic spaces", "\u00a0\u3000"],
];

for (const dialect of DIALECTS) {
  describe(`hostile text in reasons and metadata (${dialect})`, () => {
    let t: TempCore;
    before(async () => {
      t = await tempCore(dialect);
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/txt", key: "K", value: val("v") });
    });
    after(async () => {
      await t.cleanup();
    });

    async function auditReasons(): Promise<string[]> {
      const events = await internals(t.core).audit.list({ owner: null, action: null, afterSeq: 0, limit: 1000 });
      return events.map((e) => e.reason ?? "");
    }

    for (const [what, text] of HOSTILE) {
      it(`refuses a reveal, share and run reason with ${what}, and never stores it in the audit log`, async () => {
        const ref = { owner: "project/txt", key: "K" };
        await assert.rejects(t.core.secrets.reveal(ACTOR, CTX, { ...ref, reason: text }), invalid("reason"));
        await assert.rejects(t.core.secrets.share(ACTOR, CTX, { ...ref, reason: text }), invalid("reason"));
        await assert.rejects(t.core.secrets.revealAll(ACTOR, CTX, { owner: "project/txt", reason: text }), invalid("reason"));
        await assert.rejects(t.core.secrets.exportValues(ACTOR, CTX, { owner: "project/txt", reason: text }), invalid("reason"));
        assert.ok(!(await auditReasons()).includes(text.trim()));
      });

      it(`refuses metadata with ${what} in a value, naming meta.<key>, and writes nothing`, async () => {
        await assert.rejects(
          t.core.secrets.set(ACTOR, CTX, { owner: "project/txt", key: "M", value: val("v"), meta: { env: "prod", note: text } }),
          invalid("meta.note"),
        );
        await assert.rejects(
          t.core.secrets.importMany(ACTOR, CTX, {
            owner: "project/txt",
            mode: "merge",
            entries: [{ key: "I", value: val("v"), meta: { note: text } }],
            source: "dotenv",
          }),
          invalid("meta.note"),
        );
        await assert.rejects(
          t.core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner: "project/txt", key: "M" }),
          (e: unknown) => e instanceof CofferError,
        );
        await assert.rejects(
          t.core.secrets.get(ACTOR, LOCAL_CONTEXT, { owner: "project/txt", key: "I" }),
          (e: unknown) => e instanceof CofferError,
        );
      });
    }

    it("refuses a metadata key with control characters without echoing it", async () => {
      await assert.rejects(
        t.core.secrets.set(ACTOR, CTX, { owner: "project/txt", key: "M", value: val("v"), meta: { "a\x1b[2Jb": "x" } }),
        (e: unknown) => invalid("meta")(e) && e instanceof CofferError && !e.message.includes("\x1b"),
      );
    });

    for (const [what, text] of INVISIBLE) {
      it(`refuses a reason made only of ${what}`, async () => {
        await assert.rejects(t.core.secrets.reveal(ACTOR, CTX, { owner: "project/txt", key: "K", reason: text }), invalid("reason"));
      });
    }

    it("accepts reasons and metadata in any script, with emoji and inner zero-width joiners", async () => {
      const reason = "Überprüfung 事故対応 👩‍💻 incident #42";
      const r = await t.core.secrets.reveal(ACTOR, CTX, { owner: "project/txt", key: "K", reason });
      r.value.wipe();
      assert.ok((await auditReasons()).includes(reason));
      const set = await t.core.secrets.set(ACTOR, CTX, {
        owner: "project/txt",
        key: "U",
        value: val("v"),
        meta: { note: "café – ünïcode ✓" },
      });
      assert.equal(set.meta["note"], "café – ünïcode ✓");
    });
  });
}
