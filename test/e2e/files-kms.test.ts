import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { parse } from "yaml";
import { BIN, ROOT } from "../fixtures/cli.ts";
import { FAKE_AWS_CREDENTIALS, FakeAwsKms } from "../fixtures/fake-aws-kms.ts";
import { FakeAzureKeyVault } from "../fixtures/fake-azure-key-vault.ts";
import { FakeGcpKms } from "../fixtures/fake-gcp-kms.ts";
import { FakeVaultTransit } from "../fixtures/fake-vault-transit.ts";

// SOPS files wrapped for cloud master keys (issue 12 §4), against the loopback protocol fakes of
// AWS KMS and Vault Transit; the format against the real sops where it is present (its cloud
// services are stubbed offline, so it opens these files through their age stanza).
const SOPS = process.env["SOPS_BIN"] ?? resolve(ROOT, "../shared/bin/sops");
const HAVE_SOPS = existsSync(SOPS);

type R = { status: number | null; stdout: Buffer; stderr: string };

/**
 * A protocol fake of AWS STS `AssumeRole` on 127.0.0.1 (the awsQuery protocol: a form-encoded
 * `POST /`, an XML answer), for a `kms` stanza's `role`. It records the role and session name
 * asked for and hands back the fake KMS's own test credentials with a session token.
 */
async function fakeSts(): Promise<{ url: string; calls: { role: string; session: string }[]; close: () => Promise<void> }> {
  const calls: { role: string; session: string }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      if (form.get("Action") !== "AssumeRole" || !/^AWS4-HMAC-SHA256 Credential=/.test(req.headers.authorization ?? "")) {
        res.writeHead(400, { "content-type": "text/xml" }).end("<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>");
        return;
      }
      calls.push({ role: form.get("RoleArn") ?? "", session: form.get("RoleSessionName") ?? "" });
      const expires = new Date(Date.now() + 3600_000).toISOString();
      res
        .writeHead(200, { "content-type": "text/xml" })
        .end(
          `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>` +
            `<AccessKeyId>${FAKE_AWS_CREDENTIALS.accessKeyId}</AccessKeyId><SecretAccessKey>${FAKE_AWS_CREDENTIALS.secretAccessKey}</SecretAccessKey>` +
            `<SessionToken>fake-session-token</SessionToken><Expiration>${expires}</Expiration></Credentials>` +
            `<AssumedRoleUser><AssumedRoleId>AROAFAKE:s</AssumedRoleId><Arn>${form.get("RoleArn") ?? ""}/s</Arn></AssumedRoleUser>` +
            `</AssumeRoleResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></AssumeRoleResponse>`,
        );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
    calls,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => {
          r();
        });
      }),
  };
}

/** Async (the fakes live in this process, so a synchronous spawn would block them). */
function runIn(cmd: string, args: readonly string[], cwd: string, env: Record<string, string>): Promise<R> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd, env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", rej);
    child.on("close", (status) => {
      res({ status, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() });
    });
  });
}

describe("coffer file with KMS master keys (loopback fakes of AWS KMS and Vault Transit)", () => {
  let dir: string;
  let kms: FakeAwsKms;
  let vault: FakeVaultTransit;
  let gcp: FakeGcpKms;
  let akv: FakeAzureKeyVault;
  let gcpKey: string;
  let arn: string;
  let arn2: string;
  let vaultUri: string;
  let recipient: string;
  let keyFile: string;
  let base: Record<string, string>;

  const coffer = (args: readonly string[], extra: Record<string, string> = {}): Promise<R> =>
    runIn(process.execPath, [BIN, ...args], dir, { ...base, ...extra });
  const sops = (args: readonly string[], extra: Record<string, string> = {}): Promise<R> =>
    runIn(SOPS, ["--disable-version-check", ...args], dir, { ...base, ...extra });
  const ok = (r: R, what: string): Buffer => {
    assert.equal(r.status, 0, `${what}: ${r.stderr}`);
    return r.stdout;
  };
  const meta = (name: string): Record<string, unknown> =>
    (parse(readFileSync(join(dir, name), "utf8")) as { sops: Record<string, unknown> }).sops;
  /** Only the cloud keys: no age identity anywhere. */
  const noAge = { SOPS_AGE_KEY_FILE: "", SOPS_AGE_KEY: "" };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "coffer-files-kms-"));
    kms = await FakeAwsKms.start();
    vault = await FakeVaultTransit.start();
    gcp = await FakeGcpKms.start();
    akv = await FakeAzureKeyVault.start();
    gcpKey = gcp.createKey("sops");
    akv.createKey("sops");
    arn = kms.createKey();
    arn2 = kms.createKey();
    vault.createKey("sops");
    vaultUri = `${vault.url}/v1/transit/keys/sops`;
    const id = await generateX25519Identity();
    recipient = await identityToRecipient(id);
    keyFile = join(dir, "keys.txt");
    writeFileSync(keyFile, `${id}\n`, { mode: 0o600 });
    base = {
      PATH: process.env["PATH"] ?? "",
      HOME: join(dir, "home"),
      XDG_CONFIG_HOME: join(dir, "xdg"),
      COFFER_HOME: join(dir, "coffer"),
      SOPS_AGE_KEY_FILE: keyFile,
      SOPS_DISABLE_VERSION_CHECK: "1",
      AWS_ACCESS_KEY_ID: FAKE_AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: FAKE_AWS_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_KMS: kms.url,
      AWS_EC2_METADATA_DISABLED: "true",
      VAULT_TOKEN: vault.token,
      COFFER_GCP_KMS_ENDPOINT: gcp.endpoint,
      COFFER_GCP_ACCESS_TOKEN: gcp.token,
      COFFER_AZURE_ACCESS_TOKEN: akv.token,
      COFFER_AZURE_CA_FILE: join(dir, "akv-ca.pem"),
    };
    writeFileSync(join(dir, "akv-ca.pem"), akv.caCertificate);
    writeFileSync(join(dir, "s.yaml"), "db:\n    password: hunter2\napi_key: k-123\n");
  });
  after(async () => {
    await kms.close();
    await vault.close();
    await gcp.close();
    await akv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("encrypt wraps the data key for age, AWS KMS (with its encryption context) and Vault Transit, in sops's stanza format", async () => {
    const args = ["file", "encrypt", "--age", recipient, "--kms", arn, "--encryption-context", "app:web,env:prod"];
    ok(await coffer([...args, "--hc-vault-transit", vaultUri, "--output", "m.yaml", "s.yaml"]), "encrypt");
    const m = meta("m.yaml");
    const k = (m["kms"] as Record<string, unknown>[])[0] ?? {};
    assert.deepEqual(Object.keys(k), ["arn", "aws_profile", "context", "created_at", "enc"]);
    assert.equal(k["arn"], arn);
    assert.deepEqual(k["context"], { app: "web", env: "prod" });
    assert.equal(k["aws_profile"], "");
    assert.match(String(k["created_at"]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(String(k["enc"]), /^[A-Za-z0-9+/]+=*$/);
    const v = (m["hc_vault"] as Record<string, unknown>[])[0] ?? {};
    assert.deepEqual(Object.keys(v), ["created_at", "enc", "engine_path", "key_name", "vault_address"]);
    assert.deepEqual([v["vault_address"], v["engine_path"], v["key_name"]], [vault.url, "transit", "sops"]);
    assert.match(String(v["enc"]), /^vault:v1:/);
    assert.equal((m["age"] as unknown[]).length, 1);
  });

  it("decrypts through any master key: age, then AWS KMS alone, then Vault Transit alone", async () => {
    const plain = ok(await coffer(["file", "decrypt", "m.yaml"]), "decrypt with age");
    const before = kms.calls.Decrypt;
    assert.deepEqual(ok(await coffer(["file", "decrypt", "m.yaml"], noAge), "decrypt with KMS"), plain);
    assert.equal(kms.calls.Decrypt, before + 1);
    const vaultBefore = vault.calls.decrypt;
    const viaVault = await coffer(["file", "decrypt", "m.yaml"], {
      ...noAge,
      AWS_SECRET_ACCESS_KEY: "wrong/secret/key/000000000000000000000000",
    });
    assert.deepEqual(ok(viaVault, "decrypt with Vault"), plain);
    assert.equal(vault.calls.decrypt, vaultBefore + 1);
    const none = await coffer(["file", "decrypt", "m.yaml"], { ...noAge, AWS_SECRET_ACCESS_KEY: "wrong", VAULT_TOKEN: "bad" });
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /^error\[KEY_NOT_FOUND\]: cannot open the data key/);
    assert.match(none.stderr, new RegExp(`kms ${arn.replace(/[/]/g, "\\/")}: the request signature does not match`));
    assert.match(none.stderr, /hc_vault .*Vault denied the token/);
    assert.doesNotMatch(none.stderr, /hunter2|k-123/);
  });

  it("a kms stanza's role is assumed through STS before KMS is called (sops's arn+role spelling)", async () => {
    const sts = await fakeSts();
    try {
      const role = "arn:aws:iam::111122223333:role/sops-decrypt";
      const env = { AWS_ENDPOINT_URL_STS: sts.url };
      ok(await coffer(["file", "encrypt", "--kms", `${arn}+${role}`, "--output", "role.yaml", "s.yaml"], env), "encrypt with a role");
      const k = (meta("role.yaml")["kms"] as Record<string, unknown>[])[0] ?? {};
      assert.deepEqual([k["arn"], k["role"]], [arn, role]);
      assert.deepEqual(
        ok(await coffer(["file", "decrypt", "role.yaml"], { ...env, ...noAge }), "decrypt with the role"),
        readFileSync(join(dir, "s.yaml")),
      );
      assert.equal(sts.calls.length, 2);
      assert.equal(sts.calls[0]?.role, role);
      assert.match(sts.calls.map((c) => c.session).join(","), /^sops@[^,]+,sops@/);
    } finally {
      await sts.close();
    }
  });

  it("an unreachable master key is an error naming it; --skip-unavailable leaves it out with a loud warning", async () => {
    const gone = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000";
    const r = await coffer(["file", "encrypt", "--age", recipient, "--kms", gone, "--output", "x.yaml", "s.yaml"]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^error\[KEY_NOT_FOUND\]: cannot wrap the data key with kms arn:aws:kms:us-east-1:111122223333:key\/0{8}-/);
    assert.equal(existsSync(join(dir, "x.yaml")), false, "nothing written");
    const s = await coffer(["file", "encrypt", "--age", recipient, "--kms", gone, "--skip-unavailable", "--output", "x.yaml", "s.yaml"]);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stderr, /WARNING: --skip-unavailable: kms arn:aws:kms:.*0000 was LEFT OUT/);
    assert.equal(meta("x.yaml")["kms"], undefined);
    const down = await coffer([
      "file",
      "encrypt",
      "--age",
      recipient,
      "--hc-vault-transit",
      "http://127.0.0.1:9/v1/transit/keys/k",
      "s.yaml",
    ]);
    assert.notEqual(down.status, 0);
    assert.match(
      down.stderr,
      /^error\[KEY_UNAVAILABLE\]: cannot wrap the data key with hc_vault http:\/\/127\.0\.0\.1:9\/v1\/transit\/keys\/k: cannot connect/,
    );
  });

  it("updatekeys keeps every stanza still listed (byte for byte, no call to its service) and wraps only new ones", async () => {
    const before = meta("m.yaml");
    const calls = { ...kms.calls };
    // The still-listed KMS stanza is kept without a call to KMS; the data key opens with age.
    const args = ["file", "updatekeys", "--age", recipient, "--kms", arn, "--encryption-context", "app:web,env:prod", "--kms", arn2];
    const r = await coffer([...args, "m.yaml"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`recipient added: kms ${arn2.replace(/[/]/g, "\\/")}`));
    assert.match(r.stderr, /recipient removed: hc_vault /);
    assert.match(r.stderr, new RegExp(`kept \\(still listed\\): kms ${arn.replace(/[/]/g, "\\/")}`));
    const after = meta("m.yaml");
    const kmsAfter = after["kms"] as Record<string, unknown>[];
    assert.deepEqual(kmsAfter[0], (before["kms"] as unknown[])[0], "the listed KMS stanza is unchanged");
    assert.deepEqual(after["age"], before["age"]);
    assert.equal(kmsAfter.length, 2);
    assert.equal(after["mac"], before["mac"]);
    assert.equal(kms.calls.Encrypt, calls.Encrypt + 1, "only the new key was wrapped");
    assert.equal(kms.calls.Decrypt, calls.Decrypt, "the data key came from age");
    ok(await coffer(["file", "decrypt", "m.yaml"], { ...noAge, AWS_ENDPOINT_URL_KMS: kms.url }), "opens through the new KMS stanza");
  });

  it("rotate rewraps for every master key of the file and fails naming one it cannot reach", async () => {
    ok(await coffer(["file", "rotate", "--in-place", "m.yaml"]), "rotate");
    const m = meta("m.yaml");
    assert.equal((m["kms"] as unknown[]).length, 2);
    ok(await coffer(["file", "decrypt", "m.yaml"], noAge), "opens through KMS after rotation");
    kms.setKeyState(arn2, "Disabled");
    try {
      const r = await coffer(["file", "rotate", "--in-place", "m.yaml"]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /^error\[KEY_DISABLED\]: cannot wrap the data key with kms arn:aws:kms:.*: the KMS key is disabled/);
    } finally {
      kms.setKeyState(arn2, "Enabled");
    }
  });

  it("a KMS stanza with a Shamir key group opens through KMS", async () => {
    writeFileSync(
      join(dir, ".sops.yaml"),
      `creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n      - kms:\n          - arn: ${arn}\n            context: {team: a}\n      - hc_vault: ["${vaultUri}"]\n      - age: [${recipient}]\n`,
    );
    try {
      ok(await coffer(["file", "encrypt", "--output", "g.yaml", "s.yaml"]), "encrypt with key groups");
      const groups = meta("g.yaml")["key_groups"] as Record<string, unknown>[];
      assert.equal(groups.length, 3);
      assert.deepEqual((groups[0]?.["kms"] as Record<string, unknown>[])[0]?.["context"], { team: "a" });
      assert.deepEqual(groups[0]?.["hc_vault"], [], "sops writes an empty hc_vault list in every key group");
      assert.deepEqual(ok(await coffer(["file", "decrypt", "g.yaml"], noAge), "KMS + Vault shares"), readFileSync(join(dir, "s.yaml")));
    } finally {
      rmSync(join(dir, ".sops.yaml"));
    }
  });

  it(
    "sops opens Coffer's mixed file through its age stanza, and Coffer opens the KMS stanzas sops rewrites",
    { skip: HAVE_SOPS ? false : `no sops binary at ${SOPS}` },
    async () => {
      const args = ["file", "encrypt", "--age", recipient, "--kms", arn, "--encryption-context", "app:web"];
      ok(await coffer([...args, "--hc-vault-transit", vaultUri, "--output", "mx.yaml", "s.yaml"]), "encrypt");
      const bySops = ok(await sops(["-d", "mx.yaml"]), "sops -d");
      assert.deepEqual(ok(await coffer(["file", "decrypt", "mx.yaml"]), "coffer decrypt"), bySops);
      // sops set decrypts the data key with age (its KMS is offline) and writes the metadata back itself.
      ok(await sops(["set", "mx.yaml", '["api_key"]', '"k-456"']), "sops set");
      const text = readFileSync(join(dir, "mx.yaml"), "utf8");
      assert.match(text, /\n {4}kms:\n {8}- arn: arn:aws:kms:/);
      const viaKms = ok(await coffer(["file", "decrypt", "mx.yaml"], { ...noAge, VAULT_TOKEN: "bad" }), "coffer via sops's KMS stanza");
      assert.deepEqual(viaKms, ok(await sops(["-d", "mx.yaml"]), "sops -d after set"));
      assert.match(viaKms.toString(), /api_key: k-456/);
      ok(await coffer(["file", "decrypt", "mx.yaml"], { ...noAge, AWS_SECRET_ACCESS_KEY: "wrong" }), "coffer via sops's Vault stanza");
    },
  );

  for (const [ext, text] of [
    ["json", '{"a": "x", "n": 1}\n'],
    ["env", "A=x\nB=y\n"],
    ["ini", "[s]\na = x\n"],
  ] as const)
    it(`${ext}: the KMS stanzas (context map included) survive the store, and sops reads the file`, async () => {
      writeFileSync(join(dir, `p.${ext}`), text);
      const args = ["file", "encrypt", "--age", recipient, "--kms", arn, "--encryption-context", "app:web"];
      ok(await coffer([...args, "--output", `p.c.${ext}`, `p.${ext}`]), "encrypt");
      const viaKms = ok(await coffer(["file", "decrypt", `p.c.${ext}`], noAge), "decrypt via KMS");
      if (HAVE_SOPS) assert.deepEqual(viaKms, ok(await sops(["-d", `p.c.${ext}`]), "sops -d"));
      ok(await coffer(["file", "rotate", "-i", `p.c.${ext}`], noAge), "rotate via KMS");
      assert.deepEqual(ok(await coffer(["file", "decrypt", `p.c.${ext}`], noAge), "decrypt after rotate"), viaKms);
    });

  it("GCP KMS and Azure Key Vault stanzas: sops's fields, the Azure key's version recorded, each opens the file alone", async () => {
    const args = ["file", "encrypt", "--age", recipient, "--gcp-kms", gcpKey, "--azure-kv", `${akv.vaultUrl}/keys/sops`];
    ok(await coffer([...args, "--output", "ga.yaml", "s.yaml"]), "encrypt");
    const m = meta("ga.yaml");
    const g = (m["gcp_kms"] as Record<string, unknown>[])[0] ?? {};
    assert.deepEqual(Object.keys(g), ["created_at", "enc", "resource_id"]);
    assert.equal(g["resource_id"], gcpKey);
    assert.match(String(g["enc"]), /^[A-Za-z0-9+/]+=*$/);
    const a = (m["azure_kv"] as Record<string, unknown>[])[0] ?? {};
    assert.deepEqual(Object.keys(a), ["created_at", "enc", "name", "vault_url", "version"]);
    assert.deepEqual([a["vault_url"], a["name"]], [akv.vaultUrl, "sops"]);
    assert.match(String(a["version"]), /^[A-Za-z0-9]+$/, "the current version is recorded, as sops does");
    assert.match(String(a["enc"]), /^[A-Za-z0-9_-]+$/, "unpadded base64url (sops's RawURLEncoding)");
    const plain = readFileSync(join(dir, "s.yaml"));
    const gcpBefore = gcp.calls.decrypt;
    assert.deepEqual(ok(await coffer(["file", "decrypt", "ga.yaml"], { ...noAge, COFFER_AZURE_ACCESS_TOKEN: "bad" }), "via GCP"), plain);
    assert.equal(gcp.calls.decrypt, gcpBefore + 1);
    const akvBefore = akv.calls.unwrapkey;
    assert.deepEqual(ok(await coffer(["file", "decrypt", "ga.yaml"], { ...noAge, COFFER_GCP_ACCESS_TOKEN: "bad" }), "via Azure"), plain);
    assert.equal(akv.calls.unwrapkey, akvBefore + 1);
    // The rule's versionless URL is the same key as the stanza's versioned one: nothing to update.
    const same = await coffer(["file", "updatekeys", ...args.slice(2), "ga.yaml"]);
    assert.equal(same.status, 0, same.stderr);
    assert.match(same.stderr, /already up to date/);
    if (HAVE_SOPS) assert.deepEqual(ok(await sops(["-d", "ga.yaml"]), "sops -d through age"), plain);
    gcp.setEnabled(gcpKey, false);
    try {
      const r = await coffer(["file", "rotate", "-i", "ga.yaml"]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /cannot wrap the data key with gcp_kms projects\/.*cryptoKeys\/sops/);
    } finally {
      gcp.setEnabled(gcpKey, true);
    }
  });

  it("policy apply wraps for every key the policy names, dry-run shows KMS changes, check names a bad ARN's recipient", async () => {
    const pdir = join(dir, "pol");
    const policy = (admins: string): string =>
      `groups:\n  prod:\n    recipients:\n      admins:\n${admins}    secrets:\n      api:\n        file: api.yaml\n`;
    const alice = `        - { name: alice, key: ${recipient} }\n`;
    const ci = `        - { name: ci, kms: "${arn}", context: { app: web } }\n`;
    const bao = `        - { name: bao, hc_vault_transit: "${vaultUri}" }\n`;
    const ops = `        - { name: ops, pgp: "85D77543B3D624B63CEA9E6DBC17301B491B3F21" }\n`;
    rmSync(pdir, { recursive: true, force: true });
    mkdirSync(pdir);
    ok(await coffer(["file", "encrypt", "--age", recipient, "--output", "pol/api.yaml", "s.yaml"]), "seed file");
    // A pgp stanza as sops writes it (Coffer cannot wrap for pgp, but keeps the stanza the policy still lists).
    const pgpStanza =
      '    pgp:\n        - created_at: "2026-01-01T00:00:00Z"\n          enc: |-\n            -----BEGIN PGP MESSAGE-----\n            wcFMA0\n            -----END PGP MESSAGE-----\n          fp: 85D77543B3D624B63CEA9E6DBC17301B491B3F21\n';
    const seeded = readFileSync(join(pdir, "api.yaml"), "utf8").replace(/\n {4}lastmodified:/, `\n${pgpStanza}    lastmodified:`);
    writeFileSync(join(pdir, "api.yaml"), seeded);
    writeFileSync(join(pdir, "coffer.policy.yaml"), policy(alice + ci + bao + ops));
    const pol = ["--policy", join(pdir, "coffer.policy.yaml")];
    const dry = ok(await coffer(["policy", "apply", "--dry-run", ...pol]), "dry run").toString();
    assert.match(
      dry,
      new RegExp(`^would-update\\tapi\\.yaml\\t\\+kms ${arn.replace(/[/]/g, "\\/")} \\+hc_vault ${vault.url.replace(/[/.]/g, "\\$&")}`),
    );
    const applied = ok(await coffer(["policy", "apply", ...pol]), "apply").toString();
    assert.match(applied, /^updated\tapi\.yaml\t\+kms /);
    const m = (parse(readFileSync(join(pdir, "api.yaml"), "utf8")) as { sops: Record<string, unknown> }).sops;
    assert.deepEqual((m["kms"] as Record<string, unknown>[])[0]?.["context"], { app: "web" });
    assert.equal((m["hc_vault"] as unknown[]).length, 1);
    assert.equal((m["age"] as unknown[]).length, 1);
    assert.equal((m["pgp"] as Record<string, unknown>[])[0]?.["fp"], "85D77543B3D624B63CEA9E6DBC17301B491B3F21", "pgp stanza kept");
    assert.equal(ok(await coffer(["policy", "apply", ...pol]), "again").toString(), "unchanged\tapi.yaml\n");
    // A new data key cannot be wrapped for the pgp key: rotate says so, naming it, unless it is skipped loudly.
    const rot = await coffer(["file", "rotate", "pol/api.yaml"]);
    assert.notEqual(rot.status, 0);
    assert.match(
      rot.stderr,
      /^error\[KEY_UNAVAILABLE\]: cannot wrap the data key with pgp 85D77543B3D624B63CEA9E6DBC17301B491B3F21: Coffer cannot wrap/,
    );
    const skipped = await coffer(["file", "rotate", "--skip-unavailable", "pol/api.yaml"]);
    assert.equal(skipped.status, 0, skipped.stderr);
    assert.match(skipped.stderr, /WARNING: --skip-unavailable: pgp 85D7\w+ was LEFT OUT/);
    assert.match(skipped.stderr, /rotate: recipient removed: pgp 85D7/);
    // Removing the KMS admin shows in the dry run, by type.
    writeFileSync(join(pdir, "coffer.policy.yaml"), policy(alice + bao + ops));
    assert.match(ok(await coffer(["policy", "apply", "--dry-run", ...pol]), "dry run 2").toString(), /\t-kms arn:aws:kms:/);
    writeFileSync(join(pdir, "coffer.policy.yaml"), policy(`        - { name: ci, kms: "arn:aws:kms:nowhere" }\n` + alice));
    const bad = await coffer(["policy", "check", ...pol]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /groups\.prod\.recipients\.admins\.0\.kms: recipient 'ci': .*is not an AWS KMS key ARN/);
    writeFileSync(join(pdir, "coffer.policy.yaml"), policy(`        - { name: az, azureKeyvault: "http://kv/keys/k" }\n` + alice));
    assert.match(
      (await coffer(["policy", "check", ...pol])).stderr,
      /admins\.0\.azureKeyvault: recipient 'az': .*not an Azure Key Vault key URL/,
    );
    writeFileSync(join(pdir, "coffer.policy.yaml"), policy(`        - { name: g, gcp_kms: "projects/p/keyRings/r" }\n` + alice));
    assert.match(
      (await coffer(["policy", "check", ...pol])).stderr,
      /admins\.0\.gcp_kms: recipient 'g': .*not a GCP KMS key resource name/,
    );
  });
});
