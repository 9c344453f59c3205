/**
 * The container image, built and run for real (opt-in: COFFER_CONTAINER_TESTS=1; it needs podman,
 * root, debootstrap or an existing base image, the npm registry and a Debian mirror, and takes
 * minutes). It builds the Dockerfile on a base made from Debian packages, runs `coffer migrate`
 * and `coffer serve` from the image against this suite's PostgreSQL on loopback, sets and reveals
 * a secret through the API, checks the process is non-root on a read-only root, runs the image's
 * HEALTHCHECK, and stops it with SIGTERM (exit 0).
 *
 *   COFFER_CONTAINER_TESTS=1 node --test --test-global-setup=test/global-setup.ts test/container/container.test.ts
 *
 * Engine flags this sandbox needed (docs/deploy.md): `--runtime runc` where crun refuses cgroups
 * v1 hybrid mode, and `--ulimit` values under the hard limits where the caller cannot raise them.
 */
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ROOT } from "../fixtures/cli.ts";
import { freshDatabase, type FreshDatabase } from "../fixtures/postgres.ts";

const ENABLED = process.env.COFFER_CONTAINER_TESTS === "1";
const SKIP = ENABLED ? false : "set COFFER_CONTAINER_TESTS=1 to build and run the container image (needs podman; takes minutes)";
const BASE = process.env.COFFER_CONTAINER_BASE ?? "localhost/debian-minbase:bookworm";
const IMAGE = `localhost/coffer:test-${randomBytes(4).toString("hex")}`;
const CANARY = `CANARY-container-${randomBytes(6).toString("hex")}`;
const KEK = randomBytes(32).toString("base64");

function sh(cmd: string, args: readonly string[], timeout = 60_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: "utf8", timeout, maxBuffer: 64 * 1024 * 1024 });
}
const has = (cmd: string): boolean => sh("sh", ["-c", `command -v ${cmd}`]).status === 0;

/** Flags this machine needs (see the header): the runtime goes before the verb, limits on run/build. */
const RUNTIME = has("runc") ? ["--runtime", "runc"] : [];
const ULIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"];
const podman = (args: readonly string[], timeout?: number) => sh("podman", [...RUNTIME, ...args], timeout);
function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (${String(r.status)}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => {
        resolve(typeof addr === "object" && addr !== null ? addr.port : 0);
      });
    });
  });
}

/** A base image from Debian packages only: debootstrap minbase, imported (when not there yet). */
function ensureBase(): void {
  if (podman(["image", "exists", BASE]).status === 0) return;
  assert.ok(has("debootstrap"), `no base image ${BASE} and no debootstrap to make one (apt-get install debootstrap)`);
  const dir = mkdtempSync(join(tmpdir(), "coffer-rootfs-"));
  try {
    ok(
      sh("debootstrap", ["--variant=minbase", "--include=ca-certificates", "bookworm", dir, "http://deb.debian.org/debian"], 20 * 60_000),
      "debootstrap",
    );
    ok(sh("sh", ["-c", `tar -C '${dir}' -c . | podman import - '${BASE}'`], 10 * 60_000), "podman import");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The build runs behind this sandbox's TLS-intercepting proxy: its CAs (public) for the build stage. */
function extraCaArg(): string[] {
  const r = sh("sh", ["-c", "cat /usr/local/share/ca-certificates/*.crt 2>/dev/null"]);
  return r.status === 0 && r.stdout.includes("BEGIN CERTIFICATE") ? ["--build-arg", `EXTRA_CA_CERTS=${r.stdout}`] : [];
}

describe("the container image, built and run here (podman)", { skip: SKIP, timeout: 60 * 60_000 }, () => {
  let db: FreshDatabase | undefined;
  let secrets: string | undefined;
  let name: string;
  let port: number;

  before(async () => {
    assert.ok(has("podman"), "podman is not installed (apt-get install podman)");
    ensureBase();
    ok(
      podman(
        [
          "build",
          ...ULIMITS,
          "--format",
          "docker",
          "--network=host",
          "--build-arg",
          `BASE_IMAGE=${BASE}`,
          ...extraCaArg(),
          "-t",
          IMAGE,
          ROOT,
        ],
        45 * 60_000,
      ),
      "podman build",
    );
    db = await freshDatabase();
    secrets = mkdtempSync(join(tmpdir(), "coffer-ctr-secrets-"));
    chmodSync(secrets, 0o755);
    // What an operator does: the key and the URL readable by the image's user (10001) only.
    writeFileSync(join(secrets, "kek.b64"), `${KEK}\n`, { mode: 0o600 });
    writeFileSync(join(secrets, "db_url"), `${db.url}\n`, { mode: 0o600 });
    for (const f of ["kek.b64", "db_url"]) chownSync(join(secrets, f), 10001, 10001);
    name = `coffer-test-${randomBytes(4).toString("hex")}`;
    port = await freePort();
  });

  after(async () => {
    if (!ENABLED) return;
    podman(["rm", "-f", "-t", "0", name]);
    podman(["rmi", "-f", IMAGE]);
    await db?.drop();
    if (secrets !== undefined) rmSync(secrets, { recursive: true, force: true });
  });

  const mounts = (): string[] => {
    assert.ok(secrets !== undefined);
    return ["-v", `${join(secrets, "kek.b64")}:/run/secrets/coffer_kek:ro`, "-v", `${join(secrets, "db_url")}:/run/secrets/db_url:ro`];
  };
  const hardened = ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--network=host"];

  it("runs `coffer migrate` from the image with the URL from COFFER_DB_URL_FILE", () => {
    const out = ok(
      podman([
        "run",
        ...ULIMITS,
        "--rm",
        ...hardened,
        ...mounts(),
        "-e",
        "COFFER_DB_URL_FILE=/run/secrets/db_url",
        "--entrypoint",
        "node",
        IMAGE,
        "/app/bin/coffer.js",
        "migrate",
      ]),
      "migrate",
    );
    assert.match(out, /^postgres: applied /);
  });

  it("serves, sets and reveals through the API, as uid 10001 on a read-only root; the HEALTHCHECK passes", async () => {
    ok(
      podman([
        "run",
        ...ULIMITS,
        "-d",
        "--name",
        name,
        ...hardened,
        ...mounts(),
        "-e",
        "COFFER_KEK_BASE64_FILE=/run/secrets/coffer_kek",
        "-e",
        "COFFER_DB_URL_FILE=/run/secrets/db_url",
        IMAGE,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
      ]),
      "podman run",
    );
    let logs = "";
    for (let i = 0; i < 120 && !/\ncoffer_[A-Za-z0-9_-]{43}\n/.test(logs); i++) {
      await new Promise((r) => setTimeout(r, 500));
      logs = podman(["logs", name]).stdout;
    }
    const token = /\n(coffer_[A-Za-z0-9_-]{43})\n/.exec(logs)?.[1];
    assert.ok(token, `no admin token in the logs:\n${logs}\n${podman(["logs", name]).stderr}`);
    const base = `http://127.0.0.1:${String(port)}`;
    const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const put = await fetch(`${base}/v1/secrets/project/ctr/DB_PASSWORD`, {
      method: "PUT",
      headers: auth,
      body: JSON.stringify({ value: CANARY }),
    });
    assert.equal(put.status, 200, await put.text());
    const rev = await fetch(`${base}/v1/secrets/project/ctr/DB_PASSWORD:reveal`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ reason: "container test" }),
    });
    assert.equal(rev.status, 200);
    assert.equal(((await rev.json()) as { value: string }).value, CANARY);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);

    const status = ok(
      podman(["exec", name, "node", "-e", "process.stdout.write(require('fs').readFileSync('/proc/1/status','utf8'))"]),
      "exec",
    );
    assert.match(status, /^Uid:\s+10001\s+10001\s+10001\s+10001$/m, "the server (PID 1) runs as uid 10001");
    assert.match(status, /^CapEff:\s+0+$/m, "with no capabilities");
    for (const path of ["/app/x", "/var/lib/coffer/x", "/etc/x"]) {
      const w = podman(["exec", name, "node", "-e", `require('fs').writeFileSync(${JSON.stringify(path)}, 'x')`]);
      assert.notEqual(w.status, 0, `${path} is writable`);
      assert.match(w.stderr, /EROFS|EACCES/);
    }
    const hc = podman(["healthcheck", "run", name]);
    assert.equal(hc.status, 0, `healthcheck: ${hc.stdout}${hc.stderr}`);
  });

  it("stops on SIGTERM with exit 0, and its logs hold neither the value nor the key", () => {
    ok(podman(["stop", "-t", "20", name], 60_000), "podman stop");
    const code = ok(podman(["inspect", name, "--format", "{{.State.ExitCode}}"]), "inspect").trim();
    assert.equal(code, "0");
    const logs = podman(["logs", name]);
    const all = logs.stdout + logs.stderr;
    assert.equal(all.includes(CANARY), false);
    assert.equal(all.includes(KEK), false, "the master key is never logged");
    assert.equal(all.includes(db?.url ?? "-"), false, "the database URL (password) is never logged");
  });
});
