import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkPolicy, findSecret, parsePolicy, sopsConfigText } from "./policy.ts";

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
});
