import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkPolicy, findSecret, parsePolicy, sopsConfigText } from "./policy.ts";
import { parseSopsConfig } from "./sops-config.ts";

const A = "age1je6kjhzuhdjy3fqptpttxjh5k8q46vygzlgtpuq3030c947pc5tqz9dqvr";
const B = "age1l44xcng8dqj32nlv6d930qvvrny05hglzcv9qpc7kxjc6902ma4qufys29";
const C = "age1djllw2pzuprrqc0en5m8vc8k5ge3tm0f6g7cj0c0glfzp44vdc4ql8ngvu";
const policy = (secrets: string): string =>
  `groups:\n  prod:\n    recipients:\n      admins: [{ name: alice, age: ${A} }]\n      targets: [{ name: web1, age: ${B} }, { name: db1, age: ${C} }]\n    secrets:\n${secrets}`;

describe("recipients policy", () => {
  it("gives a secret every admin by default and only the targets it names", () => {
    const p = parsePolicy(policy("      api: { targets: [db1] }\n      all: { targets: '*' }\n"), "p.yaml");
    assert.deepEqual(
      findSecret(p, "prod", "api").recipients.map((r) => r.name),
      ["alice", "db1"],
    );
    assert.deepEqual(
      findSecret(p, "prod", "all").recipients.map((r) => r.name),
      ["alice", "web1", "db1"],
    );
    assert.equal(findSecret(p, "prod", "api").file, "secrets/prod/api.yaml");
  });

  it("refuses an unknown name, listing the valid ones", () => {
    assert.throws(
      () => parsePolicy(policy("      api: { admins: [bob] }\n"), "p.yaml"),
      /p\.yaml: groups\.prod\.secrets\.api\.admins\.0: unknown name 'bob'; valid names: alice/,
    );
  });

  it("refuses a recipient with no key or two keys, and a file shared by two secrets", () => {
    assert.throws(() => parsePolicy(policy("      a: {}\n").replace(`age: ${C}`, `age: ${C}, kms: k`), "p.yaml"), /give exactly one key/);
    assert.throws(() => parsePolicy(policy("      a: { file: x.yaml }\n      b: { file: x.yaml }\n"), "p.yaml"), /used by another secret/);
    assert.throws(() => parsePolicy(policy("      a: { file: ../x.yaml }\n"), "p.yaml"), /relative path inside/);
  });

  it("warns about recipients that read nothing and secrets nobody reads", () => {
    const findings = checkPolicy(parsePolicy(policy("      a: { admins: [] }\n"), "p.yaml"));
    assert.deepEqual(findings.map((f) => f.where).sort(), [
      "groups.prod.recipients.admins.alice",
      "groups.prod.recipients.targets.db1",
      "groups.prod.recipients.targets.web1",
      "groups.prod.secrets.a",
    ]);
  });

  it("generates one anchored creation rule per secret file", () => {
    const text = sopsConfigText(parsePolicy(policy("      api.key: { targets: [web1] }\n"), "p.yaml"));
    assert.match(
      text,
      new RegExp(`  - path_regex: \\^secrets/prod/api\\\\\\.key\\\\\\.yaml\\$\\n    age:\\n      - ${A}\\n      - ${B}\\n`),
    );
  });

  it("takes every master-key type (and seed 002's aliases) into .sops.yaml, which reads back as the same keys", () => {
    const arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const gcpKey = "projects/p/locations/global/keyRings/r/cryptoKeys/k";
    const text =
      `groups:\n  prod:\n    recipients:\n      admins:\n        - { name: alice, key: ${A} }\n` +
      `        - { name: ci, kms: "${arn}", role: "arn:aws:iam::111122223333:role/sops", context: { app: web } }\n` +
      `        - { name: g, gcp_kms: "${gcpKey}" }\n        - { name: az, azureKeyvault: "https://v.vault.azure.net/keys/k/abc" }\n` +
      `        - { name: hv, hc_vault_transit: "https://vault:8200/v1/transit/keys/sops" }\n` +
      `        - { name: ops, pgp: "85D77543B3D624B63CEA9E6DBC17301B491B3F21" }\n    secrets:\n      api: {}\n`;
    const p = parsePolicy(text, "p.yaml");
    const refs = findSecret(p, "prod", "api").recipients.map((r) => r.ref);
    assert.deepEqual(
      refs.map((r) => r.type),
      ["age", "kms", "gcp_kms", "azure_kv", "hc_vault", "pgp"],
    );
    const rule = parseSopsConfig(sopsConfigText(p), "/x/.sops.yaml").rules[0];
    assert.deepEqual(rule?.groups, [[refs[1], refs[2], refs[3], refs[4], refs[5], refs[0]]]);
    const plain = parsePolicy(text.replace(", context: { app: web }", ""), "p.yaml");
    const rule2 = parseSopsConfig(sopsConfigText(plain), "/x/.sops.yaml").rules[0];
    assert.match(sopsConfigText(plain), /\n {4}kms: "arn:aws:kms:[^"]+\+arn:aws:iam::111122223333:role\/sops"\n/);
    assert.equal(rule2?.groups[0]?.length, 6);
  });
});
