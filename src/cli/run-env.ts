import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { CofferError } from "../core/errors/index.ts";

/**
 * The rules `coffer run` applies to the environment it builds (docs/run.md). Whoever can write a
 * secret chooses its name and value, so a name may not change which program runs or how it is
 * loaded or interpreted, the command is found with the caller's own `PATH`, and the child does
 * not inherit Coffer's own credentials.
 */

/** Names that change how a process is found, loaded or interpreted (compared in upper case). */
export const LOADER_NAMES: readonly string[] = Object.freeze([
  // how the program is found, and shells
  "PATH",
  "BASH_ENV",
  "ENV",
  "IFS",
  "SHELLOPTS",
  "BASHOPTS",
  "PS4",
  "PROMPT_COMMAND",
  "CDPATH",
  "GLOBIGNORE",
  // the C library and the dynamic loader (LD_*, DYLD_*, MALLOC_* below)
  "GCONV_PATH",
  "GLIBC_TUNABLES",
  "HOSTALIASES",
  "LOCPATH",
  "NLSPATH",
  "RESOLV_HOST_CONF",
  // language runtimes
  "NODE_OPTIONS",
  "NODE_PATH",
  "NODE_EXTRA_CA_CERTS",
  "NODE_TLS_REJECT_UNAUTHORIZED",
  "NODE_REPL_EXTERNAL_MODULE",
  "PYTHONPATH",
  "PYTHONHOME",
  "PYTHONSTARTUP",
  "PYTHONUSERBASE",
  "PYTHONBREAKPOINT",
  "PYTHONINSPECT",
  "PERL5LIB",
  "PERLLIB",
  "PERL5OPT",
  "PERL5DB",
  "RUBYOPT",
  "RUBYLIB",
  "JAVA_TOOL_OPTIONS",
  "_JAVA_OPTIONS",
  "JDK_JAVA_OPTIONS",
  "CLASSPATH",
  "PHPRC",
  "PHP_INI_SCAN_DIR",
  "DOTNET_STARTUP_HOOKS",
  // programs that run other programs named by a variable
  "GIT_SSH",
  "GIT_SSH_COMMAND",
  "GIT_EXEC_PATH",
  "GIT_ASKPASS",
  "GIT_PROXY_COMMAND",
  "GIT_EXTERNAL_DIFF",
  "GIT_PAGER",
  "SSH_ASKPASS",
  "PAGER",
  "EDITOR",
  "VISUAL",
]);

/** Prefixes of such names (compared in upper case). */
export const LOADER_PREFIXES: readonly string[] = Object.freeze([
  "LD_",
  "DYLD_",
  "MALLOC_",
  "BASH_FUNC_",
  "LUA_",
  "GIT_CONFIG",
  "CORECLR_",
  "COR_",
  "COFFER_",
]);

/** Coffer's own credentials and the settings that lead to them: never inherited by the child. */
export const CREDENTIAL_VARS: readonly string[] = Object.freeze([
  "COFFER_KEK_BASE64",
  "COFFER_KEK_BASE64_FILE",
  "COFFER_KEYRING_FILE",
  "COFFER_TOKEN",
  "COFFER_REAUTH",
  "COFFER_DB_URL",
  "COFFER_VAULT_TOKEN",
  "COFFER_VAULT_TOKEN_FILE",
  "COFFER_BUNDLE_PASSPHRASE",
]);
/** Any other `COFFER_…` name that looks like a credential is removed too (future settings). */
const CREDENTIAL_LIKE = /^COFFER_.*(?:TOKEN|KEK_BASE64|KEYRING|PASSPHRASE|PASSWORD|SECRET|CREDENTIAL|DB_URL|REAUTH)/i;

/** A name Coffer injects: a letter or `_`, then letters, digits, `_`, `.` or `-`. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function isEnvName(name: string): boolean {
  return ENV_NAME.test(name);
}

const LOADER_NAME_SET: ReadonlySet<string> = new Set(LOADER_NAMES);

export function isLoaderName(name: string): boolean {
  const up = name.toUpperCase();
  return LOADER_NAME_SET.has(up) || LOADER_PREFIXES.some((p) => up.startsWith(p));
}

export function isCredentialVar(name: string): boolean {
  return CREDENTIAL_VARS.includes(name) || CREDENTIAL_LIKE.test(name);
}

export type Skip = { readonly name: string; readonly why: "not-an-env-name" | "loader" };

/** Why a name would not be injected, or null when it would be (`allow`: the `--allow-env` names). */
export function skipReason(name: string, allow: ReadonlySet<string>): Skip["why"] | null {
  if (!isEnvName(name)) return "not-an-env-name";
  if (isLoaderName(name) && !allow.has(name)) return "loader";
  return null;
}

/** One line for stderr naming a skipped name (never its value); odd names are quoted. */
export function describeSkip(s: Skip): string {
  return s.why === "loader"
    ? `${s.name} (it changes how programs are found, loaded or interpreted; inject it with --allow-env ${s.name})`
    : `${JSON.stringify(s.name)} (not a valid environment variable name)`;
}

/** A value as an environment string, or why it cannot be one. */
export type EnvValue = { readonly text: string } | { readonly unsafe: "not UTF-8 text" | "contains a NUL byte" };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Bytes → an environment string: UTF-8 text without a NUL byte; anything else is refused. */
export function envValueOf(bytes: Uint8Array | null): EnvValue {
  if (bytes === null) return { unsafe: "not UTF-8 text" };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { unsafe: "not UTF-8 text" };
  }
  return text.includes("\0") ? { unsafe: "contains a NUL byte" } : { text };
}

export type ChildEnvPlan = {
  readonly env: Record<string, string>;
  readonly skipped: readonly Skip[];
  readonly injected: readonly string[];
};

/**
 * The child's environment: the caller's, minus Coffer's credentials (unless kept), plus each
 * value whose name passes the rules (`override: false` keeps a variable already set).
 * @throws CofferError VALUE_NOT_ENV_SAFE naming every key whose value cannot be an environment string.
 */
export function planChildEnv(
  inherited: Readonly<Record<string, string | undefined>>,
  values: ReadonlyMap<string, EnvValue>,
  opts: { readonly override: boolean; readonly allow: ReadonlySet<string>; readonly keep: ReadonlySet<string> },
): ChildEnvPlan {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(inherited)) if (v !== undefined && (opts.keep.has(k) || !isCredentialVar(k))) env[k] = v;
  const skipped: Skip[] = [];
  const unsafe: string[] = [];
  const injected: string[] = [];
  for (const [name, value] of values) {
    const why = skipReason(name, opts.allow);
    if (why !== null) {
      skipped.push({ name, why });
      continue;
    }
    if (!opts.override && Object.hasOwn(env, name)) continue;
    if ("unsafe" in value) {
      unsafe.push(`${name} (${value.unsafe})`);
      continue;
    }
    env[name] = value.text;
    injected.push(name);
  }
  if (unsafe.length > 0)
    throw new CofferError(
      "VALUE_NOT_ENV_SAFE",
      `cannot pass ${unsafe.join(", ")} to the program as an environment variable; nothing was started`,
      { field: "value" },
    );
  return { env, skipped, injected };
}

/** Where execvp looks when `PATH` is unset (glibc's `_CS_PATH`). */
const DEFAULT_PATH = "/bin:/usr/bin";

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The program `coffer run` starts, found with the caller's own `PATH` (as execvp would) before
 * any secret is read, so an injected `PATH` never chooses the binary, and a command that does not
 * exist fails before anything is revealed. A command with a `/` is taken as a path.
 * @throws CofferError USAGE when there is no such executable.
 */
export function resolveCommand(file: string, callerPath: string | undefined, cwd: string): string {
  const win = process.platform === "win32";
  const hasDir = file.includes("/") || (win && file.includes("\\"));
  const exts = win ? ["", ...(process.env["PATHEXT"] ?? ".EXE;.CMD;.BAT;.COM").split(";")] : [""];
  const candidates = hasDir
    ? exts.map((e) => resolve(cwd, file + e))
    : (callerPath ?? DEFAULT_PATH)
        .split(win ? ";" : delimiter)
        .flatMap((dir) => exts.map((e) => join(dir === "" ? cwd : isAbsolute(dir) ? dir : resolve(cwd, dir), file + e)));
  const found = candidates.find(isExecutableFile);
  if (found === undefined) throw new CofferError("USAGE", `command not found: ${file}`);
  return found;
}
