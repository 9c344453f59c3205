import { randomBytes } from "node:crypto";
import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CofferError } from "../../core/errors/index.ts";
import {
  azureRef,
  checkKeyRef,
  checkRecipient,
  FILE_FORMATS,
  keyServices,
  kmsRef,
  vaultRef,
  type KeyAccess,
  type KeyRef,
  findSopsConfig,
  formatFromPath,
  loadIdentities,
  matchRule,
  type FileFormat,
  type KeyChange,
  type Recipients,
  type SopsConfig,
  type StoreOptions,
} from "../../files/index.ts";
import { writeLine, type Io } from "../io.ts";
import { flag, list, num, str } from "./args.ts";

/** Shared plumbing of `coffer file …`: reading, formats, identities, recipients, atomic writes. */
export async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new CofferError("KEY_UNAVAILABLE", `${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, { source: path });
  }
}

export async function readInput(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    throw new CofferError(code === "ENOENT" ? "NOT_FOUND" : "INVALID_INPUT", `${path}: cannot read the file (${code})`, { field: "path" });
  }
}

function parseFormat(v: string | undefined, field: string): FileFormat | undefined {
  if (v === undefined) return undefined;
  const f = FILE_FORMATS.find((x) => x === v);
  if (f === undefined) throw new CofferError("USAGE", `--${field}: must be one of ${FILE_FORMATS.join(", ")}`);
  return f;
}

/** `--input-type`, else the extension; `--output-type` must agree (Coffer does not convert between formats). */
export function formatsOf(args: Record<string, unknown>, path: string): FileFormat {
  const input = parseFormat(str(args, "inputType"), "input-type") ?? formatFromPath(path);
  const output = parseFormat(str(args, "outputType"), "output-type");
  if (output !== undefined && output !== input)
    throw new CofferError("USAGE", `--output-type ${output}: converting between formats is not supported (input is ${input})`);
  return input;
}

export async function sopsConfigOf(args: Record<string, unknown>, io: Io): Promise<SopsConfig | null> {
  return findSopsConfig(process.cwd(), str(args, "config") ?? io.env["SOPS_CONFIG"], { readText });
}

export function storesOf(config: SopsConfig | null): StoreOptions {
  return { yamlIndent: config?.yamlIndent ?? null, jsonIndent: config?.jsonIndent ?? null };
}

export function identitiesOf(args: Record<string, unknown>, io: Io): Promise<string[]> {
  return loadIdentities({ env: io.env, identityFiles: list(args, "identity"), readText });
}

function flagList(args: Record<string, unknown>, name: string): string[] {
  return list(args, name)
    .flatMap((a) => a.split(","))
    .map((a) => a.trim())
    .filter((a) => a !== "");
}

/** `--encryption-context key:value,key2:value2` (sops's spelling). */
function encryptionContext(args: Record<string, unknown>): Record<string, string> | null {
  const pairs = flagList(args, "encryptionContext");
  if (pairs.length === 0) return null;
  const out: Record<string, string> = {};
  for (const [i, p] of pairs.entries()) {
    const at = p.indexOf(":");
    if (at <= 0) throw new CofferError("USAGE", `--encryption-context: item ${String(i)} must be key:value`);
    out[p.slice(0, at)] = p.slice(at + 1);
  }
  return out;
}

/**
 * The master-key flags (all in one group): `--age`, `--kms` (with `--encryption-context` and
 * `--aws-profile`), `--gcp-kms`, `--azure-kv`, `--hc-vault-transit`, `--pgp`; `null` if none.
 */
export function recipientsFromFlags(args: Record<string, unknown>): Recipients | null {
  const context = encryptionContext(args);
  const profile = str(args, "awsProfile") ?? "";
  const refs: KeyRef[] = [
    ...flagList(args, "kms").map((a, i) => checkKeyRef(kmsRef(a, context, profile), `kms.${String(i)}`)),
    ...flagList(args, "gcpKms").map((g, i) => checkKeyRef({ type: "gcp_kms", resourceId: g }, `gcp-kms.${String(i)}`)),
    ...flagList(args, "azureKv").map((u, i) => checkKeyRef(azureRef(u), `azure-kv.${String(i)}`)),
    ...flagList(args, "hcVaultTransit").map((u, i) => checkKeyRef(vaultRef(u), `hc-vault-transit.${String(i)}`)),
    ...flagList(args, "pgp").map((p, i) => checkKeyRef({ type: "pgp", fingerprint: p }, `pgp.${String(i)}`)),
    ...flagList(args, "age").map((a, i): KeyRef => ({ type: "age", recipient: checkRecipient(a, `age.${String(i)}`) })),
  ];
  if (refs.length === 0) return null;
  return { groups: [refs], shamirThreshold: num(args, "shamirSecretSharingThreshold") ?? 0 };
}

/**
 * How `coffer file …` reaches cloud master keys (the environment's credentials), and
 * `--skip-unavailable`: an unreachable master key is then left out with a WARNING naming it,
 * instead of failing the command.
 */
export function keyAccessOf(args: Record<string, unknown>, io: Io): KeyAccess {
  const skip = flag(args, "skipUnavailable");
  return {
    services: keyServices({ env: io.env, readText }),
    skipUnavailable: skip,
    onSkip: (label, why) => {
      writeLine(io.stderr, `WARNING: --skip-unavailable: ${label} was LEFT OUT (it cannot open this file): ${why}`);
    },
  };
}

export function recipientsFromConfig(config: SopsConfig | null, path: string, args: Record<string, unknown>): Recipients | null {
  const rule = config === null ? null : matchRule(config, path);
  if (rule === null || rule.groups.length === 0) return null;
  return { groups: rule.groups, shamirThreshold: num(args, "shamirSecretSharingThreshold") ?? rule.shamirThreshold };
}

/**
 * Writes the result: `--in-place` (the input path) or `--output <path>` through a temporary
 * file in the same directory and a rename, so a failure leaves the target as it was; else stdout.
 */
export async function writeResult(
  args: Record<string, unknown>,
  io: Io,
  inputPath: string,
  bytes: Uint8Array,
  forceInPlace = false,
): Promise<string | null> {
  const out = str(args, "output") ?? (flag(args, "inPlace") || forceInPlace ? inputPath : undefined);
  if (out === undefined) {
    io.stdout.write(bytes);
    return null;
  }
  await writeAtomic(out, bytes);
  return out;
}

export async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  let mode = 0o600;
  try {
    mode = (await stat(path)).mode & 0o777;
  } catch {
    // a new file: 0600
  }
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, bytes, { mode, flag: "wx" });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new CofferError("INVALID_INPUT", `${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, { field: "output" });
  }
}

/** Says plainly which recipients a rewrap or rotation added and removed. */
export function reportChange(io: Io, label: string, change: KeyChange): void {
  for (const r of change.added) writeLine(io.stderr, `${label}: recipient added: ${r}`);
  for (const r of change.removed) writeLine(io.stderr, `${label}: recipient removed: ${r}`);
  if (change.added.length === 0 && change.removed.length === 0) writeLine(io.stderr, `${label}: recipients unchanged`);
}

export function warnIgnoredMac(io: Io, path: string): void {
  writeLine(io.stderr, `WARNING: ${path}: the MAC does not verify and --ignore-mac was given: the file may have been tampered with`);
}
