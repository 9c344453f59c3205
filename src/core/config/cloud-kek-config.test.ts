import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { after, before, describe, it } from "node:test";
import { CofferError } from "../errors/index.ts";
import { loadKeyring } from "../keys/index.ts";
import { loadConfig } from "./index.ts";

const GCP_KEY = "projects/acme-prod/locations/europe-west1/keyRings/coffer/cryptoKeys/kek";
const AZURE_KEY = "https://acme-kv.vault.azure.net/keys/coffer-kek";
const TOKEN = "CANARY-cloud-token-8c1f";

describe("configuration of the Google Cloud KMS and Azure Key Vault providers", () => {
  let home = "";
  before(() => {
    home = mkdtempSync(join(tmpdir(), "coffer-cloud-config-"));
  });
  after(() => {
    rmSync(home, { recursive: true, force: true });
  });
  const load = (env: Record<string, string>) => loadConfig({ env: { COFFER_HOME: home, ...env } });
  const fails = (fn: () => unknown, code: string, message: RegExp) => {
    assert.throws(fn, (e: unknown) => e instanceof CofferError && e.code === code && message.test(e.message));
  };

  it("COFFER_GCP_KMS_KEY and COFFER_AZURE_KEY_ID imply their providers; tokens never show in the config", () => {
    const g = load({ COFFER_GCP_KMS_KEY: GCP_KEY, COFFER_GCP_ACCESS_TOKEN: TOKEN, COFFER_GCP_KMS_ENDPOINT: "http://127.0.0.1:9" });
    assert.equal(g.kek.provider, "gcp-kms");
    assert.ok(!inspect(g, { depth: 10 }).includes(TOKEN) && !JSON.stringify(g).includes(TOKEN));
    const a = load({ COFFER_AZURE_KEY_ID: AZURE_KEY, COFFER_AZURE_ACCESS_TOKEN: TOKEN });
    assert.equal(a.kek.provider, "azure-key-vault");
    assert.ok(!inspect(a, { depth: 10 }).includes(TOKEN) && !JSON.stringify(a).includes(TOKEN));
    const ring = loadKeyring(a.kek, { allowCreate: false });
    assert.deepEqual(
      ring.describe().map((p) => p.provider),
      ["azure-key-vault"],
    );
    assert.match(ring.mintRefusal() ?? "", /Coffer does not create Azure Key Vault keys/);
  });

  it("refuses bad references and settings, naming the variable and the rule", () => {
    const bad = (env: Record<string, string>) => () =>
      loadKeyring(load(env).kek as Parameters<typeof loadKeyring>[0], { allowCreate: false });
    fails(
      bad({ COFFER_GCP_KMS_KEY: `${GCP_KEY}/cryptoKeyVersions/1` }),
      "KEY_INVALID",
      /^COFFER_GCP_KMS_KEY: must be a CryptoKey resource name/,
    );
    fails(bad({ COFFER_GCP_KMS_KEY: GCP_KEY, COFFER_GCP_KMS_ENDPOINT: "ftp://x" }), "KEY_INVALID", /endpoint: must be an http\(s\) URL/);
    fails(
      bad({ COFFER_AZURE_KEY_ID: "http://acme-kv.vault.azure.net/keys/k" }),
      "KEY_INVALID",
      /^COFFER_AZURE_KEY_ID: must be a Key Vault key URL/,
    );
    fails(bad({ COFFER_AZURE_KEY_ID: "https://acme-kv.vault.azure.net/secrets/k" }), "KEY_INVALID", /must be a Key Vault key URL/);
    fails(
      () => load({ COFFER_AZURE_KEY_ID: AZURE_KEY, COFFER_AZURE_AUTHORITY_HOST: "http://login" }),
      "CONFIG_INVALID",
      /COFFER_AZURE_AUTHORITY_HOST: must be an https URL/,
    );
    fails(
      () => load({ COFFER_AZURE_KEY_ID: AZURE_KEY, COFFER_AZURE_CA_FILE: join(home, "missing.pem") }),
      "CONFIG_INVALID",
      /COFFER_AZURE_CA_FILE: cannot read/,
    );
    const notPem = join(home, "not.pem");
    writeFileSync(notPem, "hello");
    fails(() => load({ COFFER_AZURE_KEY_ID: AZURE_KEY, COFFER_AZURE_CA_FILE: notPem }), "CONFIG_INVALID", /must hold PEM certificates/);
    fails(() => load({ COFFER_KEK_PROVIDER: "gcp-kms" }), "CONFIG_INVALID", /needs COFFER_GCP_KMS_KEY/);
    fails(() => load({ COFFER_KEK_PROVIDER: "azure-key-vault" }), "CONFIG_INVALID", /needs COFFER_AZURE_KEY_ID/);
  });

  it("accepts both services as keyring-file entries beside local keys", () => {
    const path = join(home, "keyring.json");
    const keys = {
      local: Buffer.alloc(32, 7).toString("base64"),
      g: { provider: "gcp-kms", name: GCP_KEY },
      a: { provider: "azure-key-vault", keyId: `${AZURE_KEY}/0123456789abcdef` },
    };
    writeFileSync(path, JSON.stringify({ active: "local", keys }), { mode: 0o600 });
    const ring = loadKeyring(load({ COFFER_KEYRING_FILE: path }).kek as Parameters<typeof loadKeyring>[0], { allowCreate: false });
    assert.deepEqual(
      ring.describe().map((p) => [p.kid, p.provider]),
      [
        ["local", "keyring"],
        ["g", "gcp-kms"],
        ["a", "azure-key-vault"],
      ],
    );
    writeFileSync(
      path,
      JSON.stringify({ active: "local", keys: { ...keys, a: { provider: "azure-key-vault", keyId: AZURE_KEY, extra: 1 } } }),
      {
        mode: 0o600,
      },
    );
    fails(
      () => loadKeyring(load({ COFFER_KEYRING_FILE: path }).kek as Parameters<typeof loadKeyring>[0], { allowCreate: false }),
      "KEY_INVALID",
      /must be/,
    );
  });
});
