import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { CofferError } from "../errors/index.ts";
import { AesKey, encodeBase64, parseKeyBase64 } from "../crypto/index.ts";

/**
 * Refuses a key file that group or others can read or write: a key readable by another
 * account is a leaked key.
 * @throws CofferError KEY_INVALID naming the file, its mode and the fix.
 */
export function assertPrivateFile(path: string, what: string): void {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new CofferError(
      "KEY_INVALID",
      `${what} ${path} is accessible by group or others (mode ${mode.toString(8).padStart(4, "0")}); run: chmod 600 ${path}`,
      { path },
    );
  }
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
 * Creates a new random key file with mode 0600 in a directory created with mode 0700. Fails
 * rather than overwrite an existing file (`wx`), so two processes starting at once cannot
 * each write a different key.
 */
export function createKeyFile(path: string): AesKey {
  const dir = dirname(path);
  // Only a directory created here is set to 0700 (mkdir's mode is reduced by the umask);
  // an existing directory is the operator's, and is left as it is.
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) chmodSync(dir, 0o700);
  const key = AesKey.generate();
  const bytes = key.exportBytes();
  try {
    writeFileSync(path, `${encodeBase64(bytes)}\n`, { mode: 0o600, flag: "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return readKeyFile(path, "master key file");
    throw new CofferError("KEY_UNAVAILABLE", `cannot create master key file ${path} (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, {
      path,
    });
  } finally {
    bytes.fill(0);
  }
  return key;
}
