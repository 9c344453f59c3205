import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { CofferError } from "../errors/index.ts";
import { anyText, checkEnv, kidText, matching, nonEmptyText, oneOf, type EnvOf, type EnvRules } from "./env-rules.ts";
import { PROVIDER_KINDS, type KekSettings } from "../keys/index.ts";
import { parseKid, type Kid } from "../model/index.ts";
import { Secret } from "../secret/index.ts";
import type { StoreSettings } from "../store/index.ts";
import { KEK_ENV, kekConfig } from "./kek-config.ts";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Every `COFFER_*` variable Coffer reads; any other one is reported as a warning (a typo). */
export const KNOWN_ENV = [
  "COFFER_HOME",
  "COFFER_KEK_PROVIDER",
  "COFFER_KEK_BASE64",
  "COFFER_KEK_BASE64_FILE",
  "COFFER_KEYRING_FILE",
  "COFFER_KEK_ID",
  "COFFER_LOG_LEVEL",
  "COFFER_ADDR",
  "COFFER_TOKEN",
  "COFFER_DB_URL",
  "COFFER_DB_URL_FILE",
  "COFFER_DB_POOL_MAX",
  "COFFER_DB_STATEMENT_TIMEOUT_MS",
  "COFFER_DB_BUSY_TIMEOUT_MS",
  "COFFER_BACKUP_RETENTION",
  "COFFER_ROTATE_AFTER",
  "COFFER_ROTATE_AFTER_WRAPS",
  "COFFER_AUTO_ROTATE",
  "COFFER_AUTO_ROTATE_CHECK",
  "COFFER_REAUTH_WINDOW",
  "COFFER_RATE_LIMIT_REVEAL",
  "COFFER_RATE_LIMIT_WRITE",
  "COFFER_RATE_LIMIT_AUTH",
  "COFFER_TLS_CERT",
  "COFFER_TLS_KEY",
  "COFFER_TRUST_PROXY",
  "COFFER_CONSOLE_IDLE",
  "COFFER_CONSOLE_LIFETIME",
  // Read by the CLI itself, not part of the configuration object.
  "COFFER_REAUTH",
  "COFFER_BUNDLE_PASSPHRASE",
] as const;

export type ServerSettings = {
  /** PEM certificate chain and private key files; both or neither. */
  readonly tls: { readonly certPath: string; readonly keyPath: string } | null;
  /** Peers whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed: addresses, CIDRs, or loopback/linklocal/uniquelocal. */
  readonly trustProxy: readonly string[];
};

export type RateLimit = { readonly count: number; readonly windowSeconds: number };

export type Config = {
  readonly home: string;
  readonly store: StoreSettings;
  readonly kek: KekSettings;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly scopeKeyCacheTtlMs: number;
  readonly maxCachedKeys: number;
  /** How long database backups are kept (`COFFER_BACKUP_RETENTION`, e.g. `30d`); null when not said. */
  readonly backupRetentionMs: number | null;
  /** When the active KEK is due for rotation: after this many wraps, or this long after activation. */
  readonly rotation: { readonly maxWraps: number; readonly maxAgeMs: number };
  /** `coffer serve` rotates on its own when due (`COFFER_AUTO_ROTATE=1`), checking every `checkMs`. */
  readonly autoRotate: { readonly enabled: boolean; readonly checkMs: number };
  /** How recently an interactive token must have authenticated to reveal (`COFFER_REAUTH_WINDOW`). */
  readonly reauthWindowMs: number;
  /** Admin-console sessions: idle timeout (`COFFER_CONSOLE_IDLE`) and absolute lifetime (`COFFER_CONSOLE_LIFETIME`). */
  readonly consoleSession: { readonly idleMs: number; readonly lifetimeMs: number };
  /**
   * Per-token rate limits (`COFFER_RATE_LIMIT_REVEAL`, `COFFER_RATE_LIMIT_WRITE`, e.g. `60/1m`), and failed
   * authentications per client address (`COFFER_RATE_LIMIT_AUTH`); null = off.
   */
  readonly rateLimits: { readonly reveal: RateLimit | null; readonly write: RateLimit | null; readonly auth: RateLimit | null };
  /** `coffer serve` only: TLS files (`COFFER_TLS_CERT`, `COFFER_TLS_KEY`) and trusted proxies (`COFFER_TRUST_PROXY`). */
  readonly server: ServerSettings;
  readonly warnings: readonly string[];
};

const RATE_LIMIT = /^(off|[1-9][0-9]{0,6}\/[1-9][0-9]{0,4}[smhd])$/;
const RATE_LIMIT_RULE = "must be 'off' or a count per window, e.g. 60/1m, 1000/1h";
const ENV_RULES = {
  COFFER_HOME: nonEmptyText,
  COFFER_KEK_PROVIDER: oneOf(PROVIDER_KINDS, `must be one of ${PROVIDER_KINDS.join(", ")}`),
  COFFER_KEK_BASE64: anyText,
  COFFER_KEK_BASE64_FILE: nonEmptyText,
  COFFER_KEYRING_FILE: nonEmptyText,
  COFFER_KEK_ID: kidText,
  COFFER_LOG_LEVEL: oneOf(LOG_LEVELS, `must be one of ${LOG_LEVELS.join(", ")}`),
  COFFER_DB_URL: nonEmptyText,
  COFFER_DB_URL_FILE: nonEmptyText,
  COFFER_TLS_CERT: nonEmptyText,
  COFFER_TLS_KEY: nonEmptyText,
  COFFER_TRUST_PROXY: anyText,
  COFFER_DB_POOL_MAX: matching(/^([1-9]|[1-9][0-9]|1[0-9][0-9]|200)$/, "must be a whole number from 1 to 200"),
  COFFER_DB_BUSY_TIMEOUT_MS: matching(/^(0|[1-9][0-9]{0,6})$/, "must be a whole number of milliseconds from 0 to 9999999"),
  COFFER_DB_STATEMENT_TIMEOUT_MS: matching(/^[1-9][0-9]{2,6}$/, "must be a whole number of milliseconds from 100 to 9999999"),
  COFFER_BACKUP_RETENTION: matching(/^[1-9][0-9]{0,4}[mhd]$/, "must be a whole number of minutes, hours or days, e.g. 90m, 12h, 30d"),
  COFFER_ROTATE_AFTER: matching(/^[1-9][0-9]{0,4}[mhd]$/, "must be a whole number of minutes, hours or days, e.g. 90d"),
  COFFER_REAUTH_WINDOW: matching(/^[1-9][0-9]{0,4}[smhd]$/, "must be a whole number of seconds, minutes, hours or days, e.g. 15m"),
  COFFER_CONSOLE_IDLE: matching(/^[1-9][0-9]{0,4}[smhd]$/, "must be a whole number of seconds, minutes, hours or days, e.g. 30m"),
  COFFER_CONSOLE_LIFETIME: matching(/^[1-9][0-9]{0,4}[smhd]$/, "must be a whole number of seconds, minutes, hours or days, e.g. 12h"),
  COFFER_RATE_LIMIT_REVEAL: matching(RATE_LIMIT, RATE_LIMIT_RULE),
  COFFER_RATE_LIMIT_WRITE: matching(RATE_LIMIT, RATE_LIMIT_RULE),
  COFFER_RATE_LIMIT_AUTH: matching(RATE_LIMIT, RATE_LIMIT_RULE),
  COFFER_AUTO_ROTATE: oneOf(["0", "1"], "must be 1 (on) or 0 (off)"),
  COFFER_AUTO_ROTATE_CHECK: matching(/^[1-9][0-9]{0,4}[smh]$/, "must be a whole number of seconds, minutes or hours, e.g. 10m"),
  COFFER_ROTATE_AFTER_WRAPS: matching(/^[1-9][0-9]{0,9}$/, "must be a whole number of wraps below 2^32 (4294967296)"),
} satisfies EnvRules;

/** A `COFFER_*` rate limit (validated by the schema): `off`, or count per window. */
function rateLimit(text: string): RateLimit | null {
  if (text === "off") return null;
  const [count = "", window = ""] = text.split("/");
  return { count: Number(count), windowSeconds: durationMs(window) / 1000 };
}

/** A `COFFER_*` duration (validated by the schema) in milliseconds. */
function durationMs(text: string): number {
  return Number(text.slice(0, -1)) * UNIT_MS[text.slice(-1) as keyof typeof UNIT_MS];
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

const DB_URL = /^(sqlite:.+|postgres(ql)?:\/\/.+)$/;

/**
 * The database URL from a file (a container secret): the whole file, without trailing line
 * breaks. Its content never appears in an error: it holds the database password.
 * @throws CofferError CONFIG_INVALID naming COFFER_DB_URL_FILE when it cannot be read or is empty.
 */
function readDbUrlFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    throw new CofferError("CONFIG_INVALID", `COFFER_DB_URL_FILE: cannot read ${path} (${code})`, { fields: ["COFFER_DB_URL_FILE"] });
  }
  const url = text.replace(/[\r\n]+$/, "");
  if (url === "") throw new CofferError("CONFIG_INVALID", `COFFER_DB_URL_FILE: ${path} is empty`, { fields: ["COFFER_DB_URL_FILE"] });
  return url;
}

const PROXY_KEYWORDS = new Set(["loopback", "linklocal", "uniquelocal"]);

/** One trusted-proxy entry: an IP address, a CIDR, or one of proxy-addr's keywords. */
function validProxyEntry(entry: string): boolean {
  if (PROXY_KEYWORDS.has(entry)) return true;
  const [addr = "", prefix, ...rest] = entry.split("/");
  const family = isIP(addr);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^(0|[1-9][0-9]{0,2})$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * `coffer serve`'s TLS files and trusted proxies: the flags win over `COFFER_TLS_CERT`,
 * `COFFER_TLS_KEY` and `COFFER_TRUST_PROXY`. Files are read when the server starts, not here.
 * @throws CofferError CONFIG_INVALID when only one TLS file is given or a proxy entry is not an address.
 */
export function serverSettings(
  env: Readonly<Record<string, string | undefined>>,
  flags: { readonly tlsCert?: string | undefined; readonly tlsKey?: string | undefined; readonly trustProxy?: string | undefined } = {},
): ServerSettings {
  const pick = (flag: string | undefined, name: string): string | undefined => flag ?? (env[name] === "" ? undefined : env[name]);
  const cert = pick(flags.tlsCert, "COFFER_TLS_CERT");
  const key = pick(flags.tlsKey, "COFFER_TLS_KEY");
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? "--tls-cert (COFFER_TLS_CERT)" : "--tls-key (COFFER_TLS_KEY)";
    throw new CofferError("CONFIG_INVALID", `TLS needs both a certificate and a private key: ${missing} is missing`, {
      fields: [cert === undefined ? "COFFER_TLS_CERT" : "COFFER_TLS_KEY"],
    });
  }
  const proxyText = flags.trustProxy ?? env["COFFER_TRUST_PROXY"] ?? "";
  const trustProxy = proxyText
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  const bad = trustProxy.filter((e) => !validProxyEntry(e));
  if (bad.length > 0) {
    const source = flags.trustProxy !== undefined ? "--trust-proxy" : "COFFER_TRUST_PROXY";
    throw new CofferError(
      "CONFIG_INVALID",
      `${source}: ${bad.map((b) => JSON.stringify(b.slice(0, 64))).join(", ")} is not an IP address, a CIDR (10.0.0.0/8) or loopback/linklocal/uniquelocal`,
      { fields: [source] },
    );
  }
  return Object.freeze({
    tls: cert === undefined || key === undefined ? null : Object.freeze({ certPath: resolve(cert), keyPath: resolve(key) }),
    trustProxy: Object.freeze(trustProxy),
  });
}

/**
 * The store: `--db` > `COFFER_DB_URL_FILE` > `COFFER_DB_URL` > `DATABASE_URL` > SQLite in the data directory.
 * `postgres://…` selects PostgreSQL; `sqlite:<path>` a SQLite file elsewhere.
 */
function storeSettings(
  home: string,
  env: EnvOf<typeof ENV_RULES>,
  raw: Readonly<Record<string, string | undefined>>,
  flag: string | undefined,
): StoreSettings {
  const fromFile = flag === undefined && env.COFFER_DB_URL_FILE !== undefined ? readDbUrlFile(env.COFFER_DB_URL_FILE) : undefined;
  const url = flag ?? fromFile ?? env.COFFER_DB_URL ?? (raw["DATABASE_URL"] === "" ? undefined : raw["DATABASE_URL"]);
  const busyTimeoutMs = Number(env.COFFER_DB_BUSY_TIMEOUT_MS ?? "10000");
  if (url === undefined) return { kind: "sqlite", path: join(home, "coffer.db"), busyTimeoutMs };
  const source =
    flag !== undefined
      ? "--db"
      : fromFile !== undefined
        ? "COFFER_DB_URL_FILE"
        : env.COFFER_DB_URL !== undefined
          ? "COFFER_DB_URL"
          : "DATABASE_URL";
  if (!DB_URL.test(url)) throw new CofferError("CONFIG_INVALID", `${source}: must be postgres://… or sqlite:<path>`, { fields: [source] });
  if (url.startsWith("sqlite:")) return { kind: "sqlite", path: resolve(url.slice("sqlite:".length)), busyTimeoutMs };
  return {
    kind: "postgres",
    url: Secret.fromString(url),
    poolMax: Number(env.COFFER_DB_POOL_MAX ?? "10"),
    statementTimeoutMs: Number(env.COFFER_DB_STATEMENT_TIMEOUT_MS ?? "15000"),
  };
}

export type ConfigSources = {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Flags win over environment variables. */
  readonly flags?: {
    readonly home?: string | undefined;
    readonly db?: string | undefined;
    readonly tlsCert?: string | undefined;
    readonly tlsKey?: string | undefined;
    readonly trustProxy?: string | undefined;
  };
  /** The local CLI defaults to the OS keychain (with the key file as fallback), a server to the file. */
  readonly role?: "cli" | "server";
};

/** The file, env and keyring-file providers (key-service ones are built by `kekConfig`). */
function localKek(provider: "file" | "env" | "keyring", env: EnvOf<typeof ENV_RULES>, home: string, kid: Kid): KekSettings {
  switch (provider) {
    case "file":
      return { provider, path: join(home, "secrets", "master-key"), kid };
    case "env":
      return {
        provider,
        kid,
        file: env.COFFER_KEK_BASE64_FILE ?? null,
        base64: env.COFFER_KEK_BASE64 === undefined ? null : Secret.fromString(env.COFFER_KEK_BASE64),
      };
    case "keyring":
      if (env.COFFER_KEYRING_FILE === undefined)
        throw new CofferError("CONFIG_INVALID", "COFFER_KEK_PROVIDER=keyring needs COFFER_KEYRING_FILE", {
          fields: ["COFFER_KEYRING_FILE"],
        });
      return { provider, path: resolve(env.COFFER_KEYRING_FILE) };
  }
}

/** `$XDG_DATA_HOME/coffer`, i.e. `~/.local/share/coffer` by default. */
export function defaultHome(env: Readonly<Record<string, string | undefined>>): string {
  const xdg = env["XDG_DATA_HOME"];
  return join(xdg !== undefined && xdg !== "" ? xdg : join(env["HOME"] ?? homedir(), ".local", "share"), "coffer");
}

/**
 * Builds the frozen configuration from flags > `COFFER_*` env > defaults. Pure apart from
 * reading `homedir()` for the default.
 * @throws CofferError CONFIG_INVALID listing every bad variable.
 */
export function loadConfig(src: ConfigSources): Config {
  const picked = Object.fromEntries(Object.entries(src.env).filter(([k, v]) => k.startsWith("COFFER_") && v !== undefined));
  const parsed = checkEnv(ENV_RULES, picked);
  if (!parsed.ok) {
    const fields = parsed.issues.map((i) => `${i.field}: ${i.message}`);
    throw new CofferError("CONFIG_INVALID", `invalid configuration: ${fields.join("; ")}`, {
      fields: parsed.issues.map((i) => i.field),
    });
  }
  const env = parsed.env;
  const home = resolve(src.flags?.home ?? env.COFFER_HOME ?? defaultHome(src.env));
  const kid = env.COFFER_KEK_ID ?? parseKid("primary");
  const implied = env.COFFER_KEK_BASE64 !== undefined || env.COFFER_KEK_BASE64_FILE !== undefined ? "env" : null;
  const keys = kekConfig(
    {
      raw: src.env,
      home,
      kid,
      provider: env.COFFER_KEK_PROVIDER ?? implied ?? (env.COFFER_KEYRING_FILE !== undefined ? "keyring" : null),
      role: src.role ?? "server",
    },
    (provider) => localKek(provider, env, home, kid),
  );
  const known = new Set<string>([...KNOWN_ENV, ...KEK_ENV]);
  const warnings = Object.keys(picked)
    .filter((k) => !known.has(k))
    .map((k) => `unknown environment variable ${k} is ignored`);
  return Object.freeze({
    home,
    store: Object.freeze(storeSettings(home, env, src.env, src.flags?.db)),
    kek: Object.freeze(keys.kek),
    logLevel: env.COFFER_LOG_LEVEL ?? "warn",
    scopeKeyCacheTtlMs: keys.scopeKeyCacheTtlMs,
    maxCachedKeys: keys.maxCachedKeys,
    backupRetentionMs: env.COFFER_BACKUP_RETENTION === undefined ? null : durationMs(env.COFFER_BACKUP_RETENTION),
    rotation: Object.freeze({
      // Far below the 2^32 random-nonce bound of one AES-GCM key (NIST SP 800-38D).
      maxWraps: Math.min(Number(env.COFFER_ROTATE_AFTER_WRAPS ?? String(2 ** 24)), 2 ** 32 - 1),
      maxAgeMs: durationMs(env.COFFER_ROTATE_AFTER ?? "365d"),
    }),
    autoRotate: Object.freeze({ enabled: env.COFFER_AUTO_ROTATE === "1", checkMs: durationMs(env.COFFER_AUTO_ROTATE_CHECK ?? "10m") }),
    reauthWindowMs: durationMs(env.COFFER_REAUTH_WINDOW ?? "15m"),
    consoleSession: Object.freeze({
      idleMs: durationMs(env.COFFER_CONSOLE_IDLE ?? "30m"),
      lifetimeMs: durationMs(env.COFFER_CONSOLE_LIFETIME ?? "12h"),
    }),
    rateLimits: Object.freeze({
      reveal: rateLimit(env.COFFER_RATE_LIMIT_REVEAL ?? "60/1m"),
      write: rateLimit(env.COFFER_RATE_LIMIT_WRITE ?? "600/1m"),
      auth: rateLimit(env.COFFER_RATE_LIMIT_AUTH ?? "20/1m"),
    }),
    server: serverSettings(src.env, src.flags),
    warnings: Object.freeze(warnings),
  });
}
