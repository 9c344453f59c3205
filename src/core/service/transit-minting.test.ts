import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeVaultTransit } from "../../../test/fixtures/fake-vault-transit.ts";
import { ACTOR, DIALECTS, tempCore, type TempCore } from "../../../test/fixtures/temp-core.ts";
import { CofferError } from "../errors/index.ts";
import { Secret } from "../secret/index.ts";
import { LOCAL_CONTEXT as CTX } from "./actor.ts";
import type { Core } from "./create-core.ts";
import { KekRotation } from "./kek-rotation.ts";
import { keyStatus } from "./key-status.ts";

const code = (c: string, message?: RegExp) => (e: unknown) =>
  e instanceof CofferError && e.code === c && (message === undefined || message.test(e.message));
const OWNERS = ["project/a", "project/b", "user/c"];
const reveal = async (core: Core, owner: string) =>
  (await core.secrets.reveal(ACTOR, CTX, { owner, key: "K", reason: "test" })).value.revealText();

for (const dialect of DIALECTS) {
  describe(`keys rotate mints a new Vault Transit key version (${dialect}, protocol fake)`, () => {
    let vault: FakeVaultTransit;
    let dir = "";
    const cleanups: TempCore[] = [];
    before(async () => {
      vault = await FakeVaultTransit.start();
      dir = mkdtempSync(join(tmpdir(), "coffer-transit-mint-"));
    });
    after(async () => {
      for (const t of cleanups) await t.cleanup();
      await vault.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const open = async (env: Record<string, string>): Promise<TempCore> => {
      const t = await tempCore(dialect, env);
      cleanups.push(t);
      return t;
    };

    it("rotates the Transit key, records the new version as a new kid in the keyring file, moves every key to it", async () => {
      vault.createKey(`mint-${dialect}`);
      const keyring = join(dir, `keyring-${dialect}.json`);
      const entry = { provider: "vault-transit", key: `mint-${dialect}` };
      writeFileSync(keyring, JSON.stringify({ active: "transit", keys: { transit: entry } }), { mode: 0o600 });
      const t = await open({ COFFER_KEYRING_FILE: keyring, VAULT_ADDR: vault.url, VAULT_TOKEN: vault.token });
      for (const owner of OWNERS) await t.core.secrets.set(ACTOR, CTX, { owner, key: "K", value: Secret.fromString(`v-${owner}`) });
      const otherServer = await t.reopen(); // started before the rotation: learns the new kid from the keyring file
      vault.reset();
      const r = await new KekRotation(t.core).rotate(ACTOR, CTX, { batchSize: 2, kid: "transit-v2" });
      assert.deepEqual(
        [r.fromKid, r.toKid, r.minted, r.rewrappedScopeKeys, r.rewrappedInternalKeys],
        ["transit", "transit-v2", true, 3, 4],
      );
      assert.equal(vault.calls.rotate, 1, "one new key version in Vault");
      assert.equal(vault.calls.encrypt, 3 + 4, "each key re-encrypted under the new version");
      const doc = JSON.parse(readFileSync(keyring, "utf8")) as { active: string; keys: Record<string, unknown> };
      assert.deepEqual(doc, { active: "transit-v2", keys: { transit: entry, "transit-v2": { ...entry, version: 2 } } });
      assert.equal(statSync(keyring).mode & 0o777, 0o600, "the keyring file's mode is kept");
      const status = await keyStatus(t.core);
      assert.equal(status.active, "transit-v2");
      assert.deepEqual(status.keys.map((k) => [k.kid, k.provider, k.scopeKeys]).sort(), [
        ["transit", "vault-transit", 0],
        ["transit-v2", "vault-transit", 3],
      ]);
      for (const owner of OWNERS) assert.equal(await reveal(otherServer, owner), `v-${owner}`);
      const again = await t.reopen();
      for (const owner of OWNERS) assert.equal(await reveal(again, owner), `v-${owner}`);
      await new KekRotation(again).retire(ACTOR, CTX, { kid: "transit" });
      // A second rotation makes version 3; a fresh process wraps new data with it.
      const r2 = await new KekRotation(again).rotate(ACTOR, CTX, { batchSize: 10 });
      assert.match(r2.toKid, /^k\d{4}-\d{2}-\d{2}$/);
      const doc2 = JSON.parse(readFileSync(keyring, "utf8")) as { keys: Record<string, { version?: number }> };
      assert.equal(doc2.keys[r2.toKid]?.version, 3);
      const third = await t.reopen();
      await third.secrets.set(ACTOR, CTX, { owner: "project/new", key: "K", value: Secret.fromString("n") });
      assert.equal(await reveal(third, "project/new"), "n");
      assert.equal((await third.audit.verify()).ok, true);
    });

    it("leaves the keyring file as it was when Vault refuses the rotation", async () => {
      vault.createKey(`refused-${dialect}`);
      const keyring = join(dir, `keyring-refused-${dialect}.json`);
      const text = JSON.stringify({ active: "transit", keys: { transit: { provider: "vault-transit", key: `refused-${dialect}` } } });
      writeFileSync(keyring, text, { mode: 0o600 });
      const t = await open({ COFFER_KEYRING_FILE: keyring, VAULT_ADDR: vault.url, VAULT_TOKEN: vault.token });
      await t.core.secrets.set(ACTOR, CTX, { owner: "project/a", key: "K", value: Secret.fromString("a") });
      vault.unavailable(10);
      await assert.rejects(new KekRotation(t.core).rotate(ACTOR, CTX, { batchSize: 10 }), code("KEY_UNAVAILABLE"));
      vault.reset();
      assert.equal(readFileSync(keyring, "utf8"), text);
      assert.equal((await keyStatus(t.core)).active, "transit");
      assert.equal(await reveal(t.core, "project/a"), "a");
    });

    it("refuses to mint for a Transit key configured by environment, saying how (a keyring file)", async () => {
      vault.createKey("env-only");
      const t = await open({ COFFER_VAULT_TRANSIT_KEY: "env-only", VAULT_ADDR: vault.url, VAULT_TOKEN: vault.token });
      await assert.rejects(
        new KekRotation(t.core).rotate(ACTOR, CTX, { batchSize: 10 }),
        code("KEY_CANNOT_MINT", /only for a Transit key listed in a keyring file.*COFFER_KEYRING_FILE/),
      );
    });
  });
}
