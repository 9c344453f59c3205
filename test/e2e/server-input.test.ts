import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { rawDb } from "../fixtures/raw-db.ts";
import { call, removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

/** Raw bytes as a request body: what a client that does not speak UTF-8 sends. */
async function postBytes(
  base: string,
  path: string,
  token: string,
  bytes: Uint8Array,
  method = "PUT",
): Promise<{ status: number; body: { code?: string; field?: string } }> {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: bytes,
  });
  return { status: res.status, body: (await res.json()) as { code?: string; field?: string } };
}

function jsonWith(prefix: string, bad: readonly number[], suffix: string): Uint8Array {
  return Uint8Array.from([...Buffer.from(prefix, "utf8"), ...bad, ...Buffer.from(suffix, "utf8")]);
}

// Each is refused by a strict decoder; a lenient one turns it into U+FFFD.
const INVALID_UTF8: readonly (readonly [string, readonly number[]])[] = [
  ["stray bytes 0xff 0xfe", [0xff, 0xfe]],
  ["an overlong '/' (0xc0 0xaf)", [0xc0, 0xaf]],
  ["an overlong NUL (0xe0 0x80 0x80)", [0xe0, 0x80, 0x80]],
  ["a lone surrogate in CESU-8 (0xed 0xa0 0x80)", [0xed, 0xa0, 0x80]],
  ["a truncated sequence (0xe2 0x82)", [0xe2, 0x82]],
  ["a code point above U+10FFFF (0xf4 0x90 0x80 0x80)", [0xf4, 0x90, 0x80, 0x80]],
];

describe("HTTP request encoding (real server, raw bytes over loopback)", () => {
  let srv: ServerHandle;
  let admin: string;

  before(async () => {
    srv = await startServer();
    admin = srv.adminToken ?? "";
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
  });

  function secretRows(): number {
    const db = rawDb(srv.home);
    try {
      return (db.prepare("SELECT count(*) AS n FROM secret_versions").get() as { n: number }).n;
    } finally {
      db.close();
    }
  }

  for (const [what, bad] of INVALID_UTF8) {
    it(`refuses a body with ${what} in a value or metadata (400 INVALID_INPUT, field body) and writes nothing`, async () => {
      const before = secretRows();
      for (const body of [jsonWith('{"value":"a', bad, '"}'), jsonWith('{"value":"x","meta":{"env":"', bad, '"}}')]) {
        const r = await postBytes(srv.url, "/v1/secrets/project/enc/BAD", admin, body);
        assert.equal(r.status, 400);
        assert.equal(r.body.code, "INVALID_INPUT");
        assert.equal(r.body.field, "body");
      }
      assert.equal(secretRows(), before);
      const got = await call(srv.url, "GET", "/v1/secrets/project/enc/BAD", { token: admin });
      assert.equal(got.status, 404);
    });
  }

  it("refuses invalid UTF-8 in a reveal reason and in an import body, before anything runs", async () => {
    const put = await call(srv.url, "PUT", "/v1/secrets/project/enc/GOOD", { token: admin, body: { value: "v" } });
    assert.equal(put.status, 200);
    const reveal = await postBytes(srv.url, "/v1/secrets/project/enc/GOOD:reveal", admin, jsonWith('{"reason":"x', [0xff], '"}'), "POST");
    assert.equal(reveal.status, 400);
    assert.equal(reveal.body.field, "body");
    const before = secretRows();
    const imp = await postBytes(
      srv.url,
      "/v1/secrets:import",
      admin,
      jsonWith('{"owner":"project/enc","format":"dotenv","content":"', [0xed, 0xa0, 0x80], '"}'),
      "POST",
    );
    assert.equal(imp.status, 400);
    assert.equal(imp.body.field, "body");
    assert.equal(secretRows(), before);
  });

  it("refuses percent-escapes that decode to invalid UTF-8 in the path or the query", async () => {
    for (const path of ["/v1/secrets/project/%FF%FE/KEY", "/v1/secrets/project/enc/K%C0%AF", "/v1/secrets?prefix=%ED%A0%80"]) {
      const r = await call(srv.url, "GET", path, { token: admin });
      assert.equal(r.status, 400, path);
      assert.equal((r.body as { code: string }).code, "INVALID_INPUT", path);
      assert.equal((r.body as { field: string }).field, "url", path);
    }
  });

  it("still accepts valid multi-byte UTF-8 in values and metadata", async () => {
    const body = Buffer.from(JSON.stringify({ value: "pässwörd ✓ 🔑", meta: { note: "café" } }), "utf8");
    const r = await postBytes(srv.url, "/v1/secrets/project/enc/UNI", admin, body);
    assert.equal(r.status, 200);
    const revealed = await call(srv.url, "POST", "/v1/secrets/project/enc/UNI:reveal", { token: admin, body: { reason: "check" } });
    assert.equal((revealed.body as { value: string }).value, "pässwörd ✓ 🔑");
  });
});
