import { chmodSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { CofferError } from "../errors/index.ts";
import { AesKey, encodeBase64, parseKeyBase64 } from "../crypto/index.ts";
import { createFileAtomically } from "./durable-file.ts";

/**
 * Refuses a key file that group or others can read or write: a key readable by another
 * account is a leaked key.
 * @throws CofferError KEY_INVALID naming the file, its mode and the fix.
 */
export function assertPrivateFile(path: string, what: string): void {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new CofferError("KEY_INVALID", `${what} ${path} is accessible by group or others (mode ${octal(mode)}); run: chmod 600 ${path}`, {
      path,
    });
  }
}

/**
 * Refuses the directory that holds the master key (`DATA/secrets/`) when group or others can
 * write to it: whoever can write there can delete, rename or replace `master-key` (and then
 * the key a restart loads is theirs). Refuses the data directory above it when others can write
 * to it without the sticky bit: they could rename `secrets/` (or `coffer.db`) away and plant
 * their own. A group-writable data directory is accepted (volumes mounted with an `fsGroup` are
 * group-writable, setgid); the key directory never is. A directory that does not exist yet is
 * created 0700 by {@link createKeyFile}.
 * @throws CofferError KEY_INVALID naming the directory, its mode and the fix.
 */
export function assertPrivateKeyDir(keyDir: string): void {
  const keyMode = modeIfExists(keyDir);
  if (keyMode !== null && (keyMode & 0o022) !== 0) {
    throw new CofferError(
      "KEY_INVALID",
      `key directory ${keyDir} is writable by group or others (mode ${octal(keyMode)}), so the master key in it could be replaced; run: chmod 700 ${keyDir}`,
      { path: keyDir },
    );
  }
  const dataDir = dirname(keyDir);
  const dataMode = modeIfExists(dataDir);
  if (dataMode !== null && (dataMode & 0o002) !== 0 && (dataMode & 0o1000) === 0) {
    throw new CofferError(
      "KEY_INVALID",
      `data directory ${dataDir} is writable by others (mode ${octal(dataMode)}), so its key directory could be replaced; run: chmod o-w ${dataDir}`,
      { path: dataDir },
    );
  }
}

function modeIfExists(path: string): number | null {
  try {
    return statSync(path).mode & 0o7777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new CofferError("KEY_UNAVAILABLE", `cannot inspect ${path} (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, { path });
  }
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    const err = code === "ENOENT" ? "KEY_NOT_FOUND" : "KEY_UNAVAILABLE";
    throw new CofferError(err, `cannot read ${what} ${path} (${code})`, { path });
  }
}

/** Reads a base64 key file, checking its permissions first. */
export function readKeyFile(path: string, what: string): AesKey {
  const text = readText(path, what);
  assertPrivateFile(path, what);
  return parseKeyBase64(text, `${what} ${path}`);
}

/** Reads a private text file (a keyring JSON), checking its permissions first. */
export function readPrivateText(path: string, what: string): string {
  const text = readText(path, what);
  assertPrivateFile(path, what);
  return text;
}

export function fileExists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates a new random key file with mode 0600 in a directory created with mode 0700, durably
 * (fsynced) and atomically. Never overwrites an existing file: when two processes start at
 * once, the second reads the first one's key (whole: the file appears complete or not at all).
 */
export function createKeyFile(path: string): AesKey {
  const dir = dirname(path);
  // Only a directory created here is set to 0700 (mkdir's mode is reduced by the umask);
  // an existing directory is the operator's, and is left as it is.
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) chmodSync(dir, 0o700);
  const key = AesKey.generate();
  const bytes = key.exportBytes();
  let written: boolean;
  try {
    written = createFileAtomically(path, `${encodeBase64(bytes)}\n`, 0o600, "master key file");
  } finally {
    bytes.fill(0);
  }
  return written ? key : readKeyFile(path, "master key file");
}
