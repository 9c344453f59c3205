import { spawn } from "node:child_process";
import { basename } from "node:path";
import { constants } from "node:os";
import { CofferError, isCofferError } from "../../core/errors/index.ts";
import type { Secret } from "../../core/secret/index.ts";
import { writeLine, type Io } from "../io.ts";
import { openBackend } from "../choose-backend.ts";
import { describeSkip, envValueOf, planChildEnv, resolveCommand, skipReason, type EnvValue, type Skip } from "../run-env.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, flag, negatable, repeated, restArgs, text, type Options } from "../command.ts";

export const command = defineCommand({
  args: [restArgs("command", "the command and its arguments, after --")],
  options: [
    text("owner", "--owner <owner>", "whose secrets: user/<id>, project/<id> or system"),
    text("file", "--file <path>", "a SOPS-encrypted file whose top-level values are injected (like sops exec-env)"),
    repeated("identity", "--identity <file>", "with --file: an age identity file (repeatable; also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY)"),
    text("prefix", "--prefix <p>", "only keys starting with p"),
    negatable("override", "--no-override", "keep variables already set in the environment"),
    repeated("allowEnv", "--allow-env <name>", "inject this name even though it changes how programs load (PATH, LD_PRELOAD…; repeatable)"),
    repeated("keepEnv", "--keep-env <name>", "let the program inherit this Coffer credential (COFFER_TOKEN…; repeatable)"),
    flag("strict", "--strict", "fail, starting nothing, if any name would not be injected"),
    flag("allowEmpty", "--allow-empty", "run even when the owner (or --prefix) has no secrets"),
  ],
  example: "coffer run --owner project/acme -- npm start",
});

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;

type Rules = {
  readonly override: boolean;
  readonly allow: ReadonlySet<string>;
  readonly keep: ReadonlySet<string>;
  readonly strict: boolean;
};

function strictRefusal(skipped: readonly Skip[]): CofferError {
  return new CofferError("ENV_NAME_REFUSED", `--strict: would not inject ${skipped.map(describeSkip).join("; ")}; nothing was started`, {
    field: "name",
  });
}

/** `--strict`: refuses names the rules would skip, before anything is revealed. */
function checkStrict(names: Iterable<string>, rules: Rules): void {
  if (!rules.strict) return;
  const skipped: Skip[] = [];
  for (const name of names) {
    const why = skipReason(name, rules.allow);
    if (why !== null) skipped.push({ name, why });
  }
  if (skipped.length > 0) throw strictRefusal(skipped);
}

/**
 * `--strict`: the names are checked from metadata before the reveal, so a refused name reveals
 * nothing. A token without `secrets:read` cannot list them; the names are then checked after the
 * reveal (still before the program starts).
 */
async function preCheck(listNames: () => Promise<readonly string[]>, rules: Rules): Promise<void> {
  if (!rules.strict) return;
  let names: readonly string[];
  try {
    names = await listNames();
  } catch (e) {
    if (isCofferError(e) && e.code === "SCOPE_DENIED") return;
    throw e;
  }
  checkStrict(names, rules);
}

/** Secrets as environment values; each Secret is wiped (a `null` is a value the server could not send as text). */
function toEnvValues(secrets: ReadonlyMap<string, Secret | null>): Map<string, EnvValue> {
  const out = new Map<string, EnvValue>();
  for (const [k, s] of secrets) {
    if (s === null) {
      out.set(k, envValueOf(null));
      continue;
    }
    const bytes = s.reveal();
    out.set(k, envValueOf(bytes));
    bytes.fill(0);
    s.wipe();
  }
  return out;
}

function refuseEmpty(size: number, owner: string, prefix: string | undefined, allowEmpty: boolean): void {
  if (size > 0 || allowEmpty) return;
  const what = prefix === undefined ? `${owner} has no secrets` : `no secret of ${owner} starts with ${JSON.stringify(prefix)}`;
  throw new CofferError("NOT_FOUND", `${what}; nothing was started (run it without them with --allow-empty)`, {
    field: prefix === undefined ? "owner" : "prefix",
  });
}

/** The child's environment under the rules; skipped names are said on stderr (names only). */
function childEnv(io: Io, values: ReadonlyMap<string, EnvValue>, rules: Rules): Record<string, string> {
  const plan = planChildEnv(io.env, values, rules);
  if (plan.skipped.length > 0 && rules.strict) throw strictRefusal(plan.skipped);
  for (const s of plan.skipped) writeLine(io.stderr, `coffer run: not injected: ${describeSkip(s)}`);
  return plan.env;
}

/**
 * Runs a command with the owner's secrets as environment variables, forwards signals to it,
 * and exits with its status (128 + signal number when it was killed by a signal). The command
 * is found with the caller's own PATH before anything is revealed (docs/run.md).
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const argv = args.command;
  const owner = args.owner;
  const sopsFile = args.file;
  const file = argv[0];
  if ((owner === undefined && sopsFile === undefined) || file === undefined || file === "")
    throw new CofferError("USAGE", "usage: coffer run --owner <owner> | --file <sops file> -- <command> [args...]");
  const rules: Rules = {
    override: args.override,
    allow: new Set(args.allowEnv),
    keep: new Set(args.keepEnv),
    strict: args.strict,
  };
  // Resolved first, with the caller's PATH: a missing command reveals nothing.
  const program = resolveCommand(file, io.env["PATH"], process.cwd());
  const start = (env: Record<string, string>): Promise<number> => spawnChild(program, file, argv.slice(1), env);
  // --file alone never opens the store: the values come from the SOPS file only.
  const fromFile = sopsFile === undefined ? null : await (await import("./file-env.ts")).loadFileEnv(sopsFile, args, io);
  if (fromFile !== null) checkStrict(fromFile.keys(), rules);
  if (owner === undefined) return start(childEnv(io, fromFile ?? new Map(), rules));
  const prefix = args.prefix;
  const allowEmpty = args.allowEmpty;
  const query = { owner, ...(prefix === undefined ? {} : { prefix }) };
  const reveal = { ...query, reason: `coffer run ${basename(file)}` };
  // Both modes: the child starts first; closing the local database (a WAL checkpoint) overlaps with its start-up.
  const { backend: b, close } = await openBackend(io, globalOptions(args));
  let env: Record<string, string>;
  try {
    await preCheck(async () => (await b.listAll({ ...query, includeDeleted: false })).map((s) => s.key), rules);
    const values = toEnvValues(await b.revealAll(reveal));
    refuseEmpty(values.size, owner, prefix, allowEmpty);
    env = childEnv(io, new Map([...values, ...(fromFile ?? [])]), rules);
  } catch (e) {
    await close();
    throw e;
  }
  const exited = start(env);
  await close();
  return exited;
}

/**
 * Starts `program` (an absolute path) with `argv[0]` as the user typed it. A start-up failure is
 * reported by its code only: Node's own message may quote the environment (a value).
 */
function spawnChild(program: string, file: string, args: readonly string[], env: Record<string, string>): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let child;
    try {
      child = spawn(program, args, { stdio: "inherit", env, argv0: file });
    } catch (e) {
      reject(new CofferError("USAGE", `cannot start ${file} (${(e as NodeJS.ErrnoException).code ?? "error"})`));
      return;
    }
    const handlers = FORWARDED.map((sig) => {
      const h = (): void => {
        child.kill(sig);
      };
      process.on(sig, h);
      return [sig, h] as const;
    });
    const cleanup = (): void => {
      for (const [sig, h] of handlers) process.off(sig, h);
    };
    child.on("error", (e: NodeJS.ErrnoException) => {
      cleanup();
      if (e.code === "ENOENT") reject(new CofferError("USAGE", `command not found: ${file}`));
      else reject(new CofferError("USAGE", `cannot start ${file} (${e.code ?? "error"})`));
    });
    child.on("exit", (code, signal) => {
      cleanup();
      resolve(code ?? (signal === null ? 1 : 128 + constants.signals[signal]));
    });
  });
}
