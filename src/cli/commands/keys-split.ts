import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CofferError } from "../../core/errors/index.ts";
import type { Secret } from "../../core/secret/index.ts";
import { LOCAL_CONTEXT } from "../../core/service/index.ts";
import { writeLine, type Io } from "../io.ts";
import { withCore } from "../local-core.ts";
import { printJson } from "../output.ts";
import { globalOptions } from "./args.ts";
import { refuseRemote } from "../choose-backend.ts";
import { defineCommand, json, requiredInt, text, type Options } from "../command.ts";

export const command = defineCommand({
  options: [
    requiredInt("shares", "--shares <n>", "how many shares to make (N, 2-255)"),
    requiredInt("threshold", "--threshold <k>", "how many shares rebuild the key (K, 2-N)"),
    text("outDir", "--out-dir <dir>", "write share-<i>-of-<N>.txt files (mode 0600) there instead of printing the shares"),
    text("kid", "--kid <kid>", "split this kid of the keyring instead of the active key"),
    json,
  ],
  example: "coffer keys split --shares 5 --threshold 3 --out-dir ./shares",
});

const SHARE_FILE = /^share-[0-9]+-of-[0-9]+\.txt$/;

/** Refuses a directory that already holds share files, before the key is touched. */
function checkOutDir(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new CofferError("INVALID_INPUT", `out-dir: cannot read ${dir} (${(e as NodeJS.ErrnoException).code ?? "EIO"})`, {
      field: "out-dir",
    });
  }
  const existing = names.filter((n) => SHARE_FILE.test(n)).sort();
  if (existing.length > 0) {
    throw new CofferError(
      "INVALID_INPUT",
      `out-dir: ${dir} already holds shares (${existing.slice(0, 3).join(", ")}); refusing to overwrite or mix them, choose an empty directory`,
      { field: "out-dir" },
    );
  }
}

/** Writes `share-<i>-of-<N>.txt` with mode 0600, never over an existing file; all or nothing. */
function writeShares(dir: string, shares: readonly Secret[]): string[] {
  const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) chmodSync(dir, 0o700);
  const paths: string[] = [];
  try {
    shares.forEach((share, i) => {
      const path = join(dir, `share-${String(i + 1)}-of-${String(shares.length)}.txt`);
      writeFileSync(path, `${share.revealText()}\n`, { mode: 0o600, flag: "wx" });
      paths.push(path);
    });
  } catch (e) {
    for (const p of paths) rmSync(p, { force: true });
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    throw new CofferError("INVALID_INPUT", `out-dir: cannot write the share files in ${dir} (${code}); none were kept`, {
      field: "out-dir",
    });
  }
  return paths;
}

/**
 * `coffer keys split --shares N --threshold K`: prints N shares of the master key (or writes
 * them to files with mode 0600), any K of which rebuild it. Audited as `keys.split`.
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  refuseRemote(io, globalOptions(args), "keys split");
  const total = args.shares;
  const threshold = args.threshold;
  const outDirText = args.outDir;
  const outDir = outDirText === undefined ? null : resolve(outDirText);
  if (outDir !== null) checkOutDir(outDir);
  const kid = args.kid;
  const set = await withCore(io, globalOptions(args), (core, actor) =>
    core.admin.escrow.split(actor, LOCAL_CONTEXT, { shares: total, threshold, kid }),
  );
  try {
    const summary = { kid: set.kid, fingerprint: set.fingerprint, splitId: set.splitId, threshold: set.threshold, total: set.total };
    const how = `any ${String(set.threshold)} of these ${String(set.total)} shares rebuild the master key '${set.kid}' (fingerprint ${set.fingerprint})`;
    if (outDir !== null) {
      const files = writeShares(outDir, set.shares);
      io.stderr.write(
        `wrote ${String(files.length)} share files (mode 0600); ${how}. Give each to a different custodian, then delete them here.\n`,
      );
      if (args.json) printJson(io, { ...summary, files });
      else for (const f of files) writeLine(io.stdout, f);
      return 0;
    }
    io.stderr.write(`warning: the shares below are secret; ${how}. Give each to a different custodian; never store them together.\n`);
    const lines = set.shares.map((s) => s.revealText());
    if (args.json) printJson(io, { ...summary, shares: lines });
    else for (const l of lines) writeLine(io.stdout, l);
    return 0;
  } finally {
    for (const s of set.shares) s.wipe();
  }
}
