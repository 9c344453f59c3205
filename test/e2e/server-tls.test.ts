import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect } from "node:tls";
import { BIN } from "../fixtures/cli.ts";
import { rawDb } from "../fixtures/raw-db.ts";
import { baseEnv, call, removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

const OPENSSL = spawnSync("openssl", ["version"], { encoding: "utf8" }).status === 0;
const SKIP = OPENSSL ? false : "needs the openssl command to make a self-signed certificate";

type Pair = { cert: string; key: string; fingerprint: string };

/** A fresh self-signed P-256 certificate for 127.0.0.1, made by the openssl CLI (Node has no X.509 writer). */
function selfSigned(dir: string, name: string): Pair {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const r = spawnSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"],
      ...["-subj", `/CN=coffer-${name}`, "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key, "-out", cert],
    ],
    { encoding: "utf8" },
  );
  assert.equal(r.status, 0, r.stderr);
  chmodSync(key, 0o600);
  return { cert, key, fingerprint: new X509Certificate(readFileSync(cert)).fingerprint256 };
}

/** The fingerprint of the certificate a new TLS connection is shown, verified against `ca`. */
function servedFingerprint(url: string, ca: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca: readFileSync(ca), servername: "localhost" }, () => {
      const fp = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fp);
    });
    socket.on("error", reject);
  });
}

/** One HTTPS request that trusts only `ca`. */
function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: readFileSync(ca), method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** Replaces a file the way certbot and cert-manager do: a new file renamed over the old one. */
function replace(path: string, from: string): void {
  writeFileSync(`${path}.new`, readFileSync(from), { mode: 0o600 });
  renameSync(`${path}.new`, path);
}

async function waitFor(srv: ServerHandle, text: string, count: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (srv.output().split(text).length - 1 >= count) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`no "${text}" (x${String(count)}) in the server's output:\n${srv.output()}`);
}

function serveOnce(args: readonly string[], env: Record<string, string> = {}) {
  const home = mkdtempSync(join(tmpdir(), "coffer-tls-"));
  try {
    return spawnSync(process.execPath, [BIN, "serve", "--port", "0", ...args], {
      env: baseEnv({ COFFER_HOME: home, ...env }),
      encoding: "utf8",
      timeout: 30_000,
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

describe("coffer serve --tls-cert/--tls-key (real HTTPS on 127.0.0.1)", { skip: SKIP }, () => {
  let dir: string;
  let first: Pair;
  let second: Pair;
  let live: Pair;
  let srv: ServerHandle;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "coffer-certs-"));
    first = selfSigned(dir, "first");
    second = selfSigned(dir, "second");
    live = { cert: join(dir, "live.crt"), key: join(dir, "live.key"), fingerprint: first.fingerprint };
    replace(live.cert, first.cert);
    replace(live.key, first.key);
    srv = await startServer({ args: ["--tls-cert", live.cert, "--tls-key", live.key] });
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves HTTPS with the given certificate, verifiable by a client that trusts only it", async () => {
    assert.match(srv.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await servedFingerprint(srv.url, first.cert), first.fingerprint);
    const r = await httpsGet(`${srv.url}/healthz`, first.cert);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { status: "ok" });
  });

  it("speaks no plain HTTP on the TLS port", async () => {
    await assert.rejects(fetch(`${srv.url.replace("https:", "http:")}/healthz`));
  });

  it("SIGHUP reloads the certificate: new connections get the renewed one, without a restart", async () => {
    replace(live.cert, second.cert);
    replace(live.key, second.key);
    srv.proc.kill("SIGHUP");
    await waitFor(srv, "TLS certificate reloaded", 1);
    assert.equal(await servedFingerprint(srv.url, second.cert), second.fingerprint);
    await assert.rejects(servedFingerprint(srv.url, first.cert), /self-signed|unable to verify|certificate/i);
    assert.equal(srv.proc.exitCode, null, "the server is still running");
  });

  it("a failed reload (a key that does not match) keeps the old certificate and logs no key material", async () => {
    replace(live.key, first.key); // second's certificate with first's key
    srv.proc.kill("SIGHUP");
    await waitFor(srv, "TLS reload failed", 1);
    assert.equal(await servedFingerprint(srv.url, second.cert), second.fingerprint);
    writeFileSync(live.cert, "not a certificate\n");
    srv.proc.kill("SIGHUP");
    await waitFor(srv, "TLS reload failed", 2);
    assert.equal(await servedFingerprint(srv.url, second.cert), second.fingerprint);
    const out = srv.output();
    assert.match(out, /"code":"CONFIG_INVALID"/);
    assert.doesNotMatch(out, /PRIVATE KEY/);
    for (const k of [first.key, second.key]) {
      // Every base64 line of both keys' PEM bodies: none may appear in the logs.
      for (const line of readFileSync(k, "utf8")
        .split("\n")
        .filter((l) => l.length > 20 && !l.startsWith("-----")))
        assert.equal(out.includes(line), false);
    }
    replace(live.cert, second.cert);
    replace(live.key, second.key);
  });
});

describe("coffer serve refuses a bad TLS setup before listening (exit 2, CONFIG_INVALID)", { skip: SKIP }, () => {
  let dir: string;
  let pair: Pair;
  let other: Pair;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "coffer-certs-"));
    pair = selfSigned(dir, "ok");
    other = selfSigned(dir, "other");
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const refused = (r: ReturnType<typeof serveOnce>, pattern: RegExp): void => {
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /CONFIG_INVALID/);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stdout, /listening/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  };

  it("a certificate path that does not exist", () => {
    refused(serveOnce(["--tls-cert", join(dir, "missing.crt"), "--tls-key", pair.key]), /--tls-cert.*missing\.crt \(ENOENT\)/);
  });

  it("a certificate without its key, and a key without its certificate (flags and env alike)", () => {
    refused(serveOnce(["--tls-cert", pair.cert]), /--tls-key \(COFFER_TLS_KEY\) is missing/);
    refused(serveOnce([], { COFFER_TLS_KEY: pair.key }), /--tls-cert \(COFFER_TLS_CERT\) is missing/);
  });

  it("a private key other accounts can read (0644), naming the fix; its group may read it (0640)", async () => {
    const key = join(dir, "open.key");
    writeFileSync(key, readFileSync(pair.key), { mode: 0o644 });
    chmodSync(key, 0o644);
    refused(serveOnce(["--tls-cert", pair.cert, "--tls-key", key]), /accessible by others \(mode 0644\); run: chmod 600/);
    chmodSync(key, 0o640);
    const srv = await startServer({ env: { COFFER_TLS_CERT: pair.cert, COFFER_TLS_KEY: key } });
    try {
      assert.match(srv.url, /^https:/);
    } finally {
      await srv.stop();
      removeHome(srv.home);
    }
  });

  it("a key that is not the certificate's, and a file that is not a certificate", () => {
    refused(serveOnce(["--tls-cert", pair.cert, "--tls-key", other.key]), /is not the private key of/);
    refused(serveOnce(["--tls-cert", pair.key, "--tls-key", pair.key]), /is not a PEM certificate/);
  });
});

describe("behind a proxy: X-Forwarded-* are believed only from --trust-proxy peers", () => {
  const lastClientAddr = (home: string): string | null => {
    const db = rawDb(home);
    try {
      const row = db.prepare("SELECT client_addr FROM audit_events ORDER BY rowid DESC LIMIT 1").get() as { client_addr: string | null };
      return row.client_addr;
    } finally {
      db.close();
    }
  };
  const forwarded = {
    "x-forwarded-for": "203.0.113.7",
    "x-forwarded-proto": "https",
    "x-forwarded-host": "coffer.example.com",
  };

  async function probe(args: readonly string[]): Promise<{ clientAddr: string | null; shareUrl: string }> {
    const srv = await startServer({ args });
    try {
      const token = srv.adminToken ?? "";
      const put = await call(srv.url, "PUT", "/v1/secrets/project/proxy/K", { token, body: { value: "v" }, headers: forwarded });
      assert.equal(put.status, 200, put.text);
      const clientAddr = lastClientAddr(srv.home);
      const share = await call(srv.url, "POST", "/v1/secrets/project/proxy/K:share", {
        token,
        body: { reason: "proxy test" },
        headers: forwarded,
      });
      assert.equal(share.status, 201, share.text);
      return { clientAddr, shareUrl: (share.body as { url: string }).url };
    } finally {
      await srv.stop();
      removeHome(srv.home);
    }
  }

  it("untrusted by default: the audited client address is the peer's, and the headers cannot rewrite links", async () => {
    const r = await probe([]);
    assert.equal(r.clientAddr, "127.0.0.1");
    assert.match(r.shareUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1\/shared\//);
  });

  it("a peer outside the trusted list is not believed", async () => {
    const r = await probe(["--trust-proxy", "10.0.0.0/8,192.0.2.1"]);
    assert.equal(r.clientAddr, "127.0.0.1");
  });

  it("a trusted peer's X-Forwarded-For is the client address (audit, logs) and X-Forwarded-Proto the scheme", async () => {
    const r = await probe(["--trust-proxy", "127.0.0.1/32"]);
    assert.equal(r.clientAddr, "203.0.113.7");
    assert.match(r.shareUrl, /^https:\/\/coffer\.example\.com\/v1\/shared\//);
  });

  it("refuses a trusted-proxy entry that is not an address (exit 2, names the setting)", () => {
    const r = serveOnce(["--trust-proxy", "10.0.0.0/33"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /CONFIG_INVALID/);
    assert.match(r.stderr, /--trust-proxy: "10\.0\.0\.0\/33" is not an IP address/);
    const e = serveOnce([], { COFFER_TRUST_PROXY: "*" });
    assert.equal(e.status, 2);
    assert.match(e.stderr, /COFFER_TRUST_PROXY: "\*"/);
  });
});
