import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { after, before, describe, it } from "node:test";
import { CofferError } from "../errors/index.ts";
import { loadConfig, type Config } from "./index.ts";

const CANARY_PASSWORD = "CANARY-db-password-5e1d";

function pgUrl(config: Config): string {
  const store = config.store;
  assert.ok(store.kind === "postgres", store.kind);
  return store.url.revealText();
}

function configError(fn: () => unknown): CofferError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CofferError);
    assert.equal(e.code, "CONFIG_INVALID");
    return e;
  }
  assert.fail("expected CONFIG_INVALID");
}

describe("COFFER_DB_URL_FILE (the database URL from a mounted secret)", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "coffer-config-"));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };

  it("reads the URL from the file, without its trailing line break", () => {
    const path = file("url-lf", `postgres://coffer:${CANARY_PASSWORD}@db:5432/coffer\n`);
    assert.equal(pgUrl(loadConfig({ env: { COFFER_DB_URL_FILE: path } })), `postgres://coffer:${CANARY_PASSWORD}@db:5432/coffer`);
    const crlf = file("url-crlf", "postgres://coffer:pw@db/coffer\r\n\r\n");
    assert.equal(pgUrl(loadConfig({ env: { COFFER_DB_URL_FILE: crlf } })), "postgres://coffer:pw@db/coffer");
  });

  it("wins over COFFER_DB_URL and DATABASE_URL; --db wins over the file", () => {
    const path = file("url-wins", "postgres://from-file@db/coffer\n");
    const env = { COFFER_DB_URL_FILE: path, COFFER_DB_URL: "postgres://inline@db/coffer", DATABASE_URL: "postgres://platform@db/x" };
    assert.equal(pgUrl(loadConfig({ env })), "postgres://from-file@db/coffer");
    assert.equal(pgUrl(loadConfig({ env, flags: { db: "postgres://flag@db/coffer" } })), "postgres://flag@db/coffer");
  });

  it("a missing or unreadable file is CONFIG_INVALID naming COFFER_DB_URL_FILE and the path, not falling back to COFFER_DB_URL", () => {
    const missing = join(dir, "nope");
    const e = configError(() => loadConfig({ env: { COFFER_DB_URL_FILE: missing, COFFER_DB_URL: "postgres://inline@db/c" } }));
    assert.match(e.message, /^COFFER_DB_URL_FILE: cannot read .*nope \(ENOENT\)$/);
    assert.deepEqual((e.details as { fields?: string[] }).fields, ["COFFER_DB_URL_FILE"]);
    const isDir = configError(() => loadConfig({ env: { COFFER_DB_URL_FILE: dir } }));
    assert.match(isDir.message, /\(EISDIR\)/);
    if (process.getuid?.() !== 0) {
      const locked = file("locked", "postgres://x@db/c\n");
      chmodSync(locked, 0o000);
      assert.match(configError(() => loadConfig({ env: { COFFER_DB_URL_FILE: locked } })).message, /\(EACCES\)/);
    }
  });

  it("an empty file is CONFIG_INVALID, not the SQLite default", () => {
    const e = configError(() => loadConfig({ env: { COFFER_DB_URL_FILE: file("empty", "\n") } }));
    assert.match(e.message, /COFFER_DB_URL_FILE: .* is empty/);
  });

  it("never shows the URL: not in a config dump, not in the error for a malformed one", () => {
    const path = file("url-canary", `postgres://coffer:${CANARY_PASSWORD}@db/coffer\n`);
    const config = loadConfig({ env: { COFFER_DB_URL_FILE: path } });
    assert.equal(JSON.stringify(config).includes(CANARY_PASSWORD), false);
    assert.equal(inspect(config, { depth: 10 }).includes(CANARY_PASSWORD), false);
    const bad = file("url-bad", `mysql://root:${CANARY_PASSWORD}@db/x\n`);
    const e = configError(() => loadConfig({ env: { COFFER_DB_URL_FILE: bad } }));
    assert.match(e.message, /^COFFER_DB_URL_FILE: must be postgres:\/\/… or sqlite:<path>$/);
    assert.equal(JSON.stringify({ m: e.message, d: e.details }).includes(CANARY_PASSWORD), false);
  });

  it("is a known variable (no typo warning); a misspelt one is warned about", () => {
    const path = file("url-known", "postgres://x@db/c\n");
    assert.deepEqual(loadConfig({ env: { COFFER_DB_URL_FILE: path } }).warnings, []);
    assert.deepEqual(loadConfig({ env: { COFFER_DB_URLFILE: path } }).warnings, [
      "unknown environment variable COFFER_DB_URLFILE is ignored",
    ]);
  });
});

describe("serve settings: COFFER_TLS_CERT, COFFER_TLS_KEY, COFFER_TRUST_PROXY", () => {
  it("defaults to plain HTTP trusting no proxy", () => {
    assert.deepEqual(loadConfig({ env: {} }).server, { tls: null, trustProxy: [] });
  });

  it("flags win over the variables; paths are made absolute", () => {
    const c = loadConfig({
      env: { COFFER_TLS_CERT: "/env/c.pem", COFFER_TLS_KEY: "/env/k.pem", COFFER_TRUST_PROXY: "10.0.0.0/8" },
      flags: { tlsCert: "rel/c.pem", tlsKey: "/flag/k.pem", trustProxy: " 127.0.0.1 , ::1, fd00::/8,loopback" },
    });
    assert.deepEqual(c.server.tls, { certPath: join(process.cwd(), "rel/c.pem"), keyPath: "/flag/k.pem" });
    assert.deepEqual(c.server.trustProxy, ["127.0.0.1", "::1", "fd00::/8", "loopback"]);
  });

  it("refuses half a TLS pair and entries that are not addresses or CIDRs", () => {
    assert.match(configError(() => loadConfig({ env: { COFFER_TLS_CERT: "/c.pem" } })).message, /--tls-key \(COFFER_TLS_KEY\) is missing/);
    for (const bad of ["*", "true", "10.0.0.0/33", "::/129", "10.0.0.1/8/8", "example.com", "10.0.0.0/08"]) {
      const e = configError(() => loadConfig({ env: { COFFER_TRUST_PROXY: bad } }));
      assert.match(e.message, /^COFFER_TRUST_PROXY: ".*" is not an IP address/, bad);
    }
  });
});
