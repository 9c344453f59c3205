import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { CofferError } from "../errors/index.ts";

function ioError(what: string, path: string, e: unknown): CofferError {
  return new CofferError("KEY_UNAVAILABLE", `cannot write ${what} ${path} (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, { path });
}

/** fsyncs a directory, so a file created or renamed in it survives a power loss. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates a new file (never overwriting one: `wx`) with `mode`, writes `text`, fsyncs it and
 * its directory. EEXIST is reported as such, so a caller can tell "already there" apart.
 */
export function writeNewFileDurably(path: string, text: string, mode: number, what: string): void {
  let fd: number;
  try {
    fd = openSync(path, "wx", mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") {
      throw new CofferError("CONFLICT", `${what} ${path} already exists; it is never overwritten`, { path });
    }
    throw ioError(what, path, e);
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(path);
    throw ioError(what, path, e);
  }
  closeSync(fd);
  fsyncDir(dirname(path));
}

/**
 * Replaces `path` with `text` atomically: a temporary file in the same directory (created with
 * `mode`, or the mode of the file it replaces), fsynced, renamed over the target, and the
 * directory fsynced. A reader (or a crash) sees the old content or the new, never a mix.
 */
export function replaceFileAtomically(path: string, text: string, what: string, mode?: number): void {
  const dir = dirname(path);
  let keep: number;
  try {
    keep = mode ?? statSync(path).mode & 0o777;
  } catch {
    keep = 0o600;
  }
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    writeNewFileDurably(tmp, text, keep, what);
    renameSync(tmp, path);
    fsyncDir(dir);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or never created
    }
    if (e instanceof CofferError) throw e;
    throw ioError(what, path, e);
  }
}

/**
 * Creates `path` with `text` only if it does not exist, and atomically: the text is written and
 * fsynced in a temporary file first, then hard-linked into place (link fails if the name exists),
 * so a concurrent reader sees no file or the whole file, never an empty one (a plain `wx`
 * create-then-write showed a second process starting at once an empty key file).
 * @returns false when `path` already existed (nothing written).
 */
export function createFileAtomically(path: string, text: string, mode: number, what: string): boolean {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  writeNewFileDurably(tmp, text, mode, what);
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw ioError(what, path, e);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
  fsyncDir(dir);
  return true;
}
