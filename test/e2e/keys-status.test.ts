import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";

type Status = {
  active: string;
  keys: {
    kid: string;
    provider: string;
    fingerprint: string;
    configured: boolean;
    active: boolean;
    wrapCount: number;
    scopeKeys: number;
    owners: number;
    secretVersions: number;
    internalKeys: number;
  }[];
  totals: { secrets: number; liveSecrets: number; versions: number };
  legacyRows: number;
};

describe("coffer keys status", () => {
  let cli: CliHarness;
  let keyring = "";
  const k1 = randomBytes(32).toString("base64");
  const k2 = randomBytes(32).toString("base64");
  before(() => {
    cli = new CliHarness();
    keyring = join(cli.home, "keyring.json");
    writeFileSync(keyring, JSON.stringify({ active: "k1", keys: { k1 } }), { mode: 0o600 });
    cli.env["COFFER_KEYRING_FILE"] = keyring;
    for (const [owner, key] of [
      ["project/a", "A1"],
      ["project/a", "A2"],
      ["project/b", "B1"],
    ] as const) {
      assert.equal(cli.run(["secrets", "set", owner, key, "--stdin"], { input: "v" }).status, 0);
    }
    cli.run(["secrets", "set", "project/a", "A1", "--stdin"], { input: "v2" });
    cli.run(["secrets", "unset", "project/b", "B1"]);
  });
  after(() => {
    cli.cleanup();
  });

  it("reports the active kid as `active` and what depends on it, in --json", () => {
    const r = cli.run(["keys", "status", "--json"]);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(r.stdout) as Status;
    assert.equal(s.active, "k1");
    assert.equal(s.keys.length, 1);
    const k = s.keys[0]!;
    assert.deepEqual(
      {
        kid: k.kid,
        provider: k.provider,
        configured: k.configured,
        active: k.active,
        scopeKeys: k.scopeKeys,
        owners: k.owners,
        versions: k.secretVersions,
        internal: k.internalKeys,
      },
      { kid: "k1", provider: "keyring", configured: true, active: true, scopeKeys: 2, owners: 2, versions: 4, internal: 4 },
    );
    assert.equal(k.wrapCount, 6, "two scope keys and the internal keys: audit-mac, request-digest, state-mac, value-hmac");
    assert.match(k.fingerprint, /^[0-9a-f]{16}$/);
    assert.deepEqual(s.totals, { secrets: 3, liveSecrets: 2, versions: 4 });
    assert.equal(s.legacyRows, 0);
  });

  it("lists a newly configured kid with nothing depending on it, and never prints key bytes", () => {
    writeFileSync(keyring, JSON.stringify({ active: "k2", keys: { k1, k2 } }), { mode: 0o600 });
    const r = cli.run(["keys", "status", "--json"]);
    const s = JSON.parse(r.stdout) as Status;
    assert.equal(s.active, "k2");
    const byKid = new Map(s.keys.map((k) => [k.kid, k]));
    assert.equal(byKid.get("k2")?.scopeKeys, 0);
    assert.equal(byKid.get("k1")?.scopeKeys, 2);
    const human = cli.run(["keys", "status"]);
    assert.match(human.stdout, /^active kid: k2\n/);
    for (const out of [r.stdout, human.stdout, r.stderr, human.stderr]) {
      for (const key of [k1, k2]) {
        assert.ok(!out.includes(key));
        assert.ok(!out.includes(Buffer.from(key, "base64").toString("hex")));
      }
    }
  });
});
