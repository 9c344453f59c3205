// `npm run bench -- --files`: SOPS-format files (src/files) — encrypt and decrypt a 1,000-key
// YAML and dotenv file, each beside the floor of the same run: bare AES-256-GCM (node:crypto)
// over the same 1,000 values with one key, nothing else (no parsing, no MAC, no age, no output).
// See docs/files.md ("Benchmark").
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { encryptFile, openFile, type FileFormat } from "../src/files/index.ts";
import { median, progress } from "./common.ts";
import { machine } from "./report.ts";

export const FILE_KEYS = 1_000;

export type FileCase = {
  readonly format: FileFormat;
  readonly op: "encrypt" | "decrypt";
  readonly keys: number;
  readonly bytes: number;
  readonly cofferMs: number;
  readonly floorMs: number;
  /** Coffer time / floor time. */
  readonly ratio: number;
};
export type FilesReport = { readonly machine: ReturnType<typeof machine>; readonly rounds: number; readonly cases: readonly FileCase[] };

function values(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${randomBytes(18).toString("base64url")}-${String(i)}`);
}

function plaintext(format: FileFormat, vs: readonly string[]): Buffer {
  const lines = vs.map((v, i) => (format === "yaml" ? `KEY_${String(i)}: ${v}` : `KEY_${String(i)}=${v}`));
  return Buffer.from(`${lines.join("\n")}\n`);
}

type Sealed = { iv: Buffer; data: Buffer; tag: Buffer };

function floorEncrypt(key: Buffer, vs: readonly string[]): Sealed[] {
  return vs.map((v, i) => {
    const iv = randomBytes(32);
    const c = createCipheriv("aes-256-gcm", key, iv);
    c.setAAD(Buffer.from(`KEY_${String(i)}:`));
    const data = Buffer.concat([c.update(v, "utf8"), c.final()]);
    return { iv, data, tag: c.getAuthTag() };
  });
}

function floorDecrypt(key: Buffer, sealed: readonly Sealed[]): number {
  let n = 0;
  sealed.forEach((s, i) => {
    const d = createDecipheriv("aes-256-gcm", key, s.iv);
    d.setAAD(Buffer.from(`KEY_${String(i)}:`));
    d.setAuthTag(s.tag);
    n += Buffer.concat([d.update(s.data), d.final()]).byteLength;
  });
  return n;
}

async function time(fn: () => unknown): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

export async function measureFiles(quick: boolean): Promise<FilesReport> {
  const rounds = quick ? 5 : 21;
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  const cases: FileCase[] = [];
  for (const format of ["yaml", "dotenv"] as const) {
    const vs = values(FILE_KEYS);
    const plain = plaintext(format, vs);
    const key = randomBytes(32);
    const encrypted = (
      await encryptFile(plain, format, { groups: [[{ type: "age", recipient }]], shamirThreshold: 0, rule: null, macOnlyEncrypted: false })
    ).bytes;
    const sealed = floorEncrypt(key, vs);
    const t = { encrypt: { coffer: [] as number[], floor: [] as number[] }, decrypt: { coffer: [] as number[], floor: [] as number[] } };
    progress(`files: ${format}, ${String(FILE_KEYS)} keys, ${String(rounds)} rounds of encrypt and decrypt, floor and Coffer alternating`);
    for (let r = 0; r < rounds; r++) {
      t.encrypt.floor.push(await time(() => floorEncrypt(key, vs)));
      t.encrypt.coffer.push(
        await time(() =>
          encryptFile(plain, format, { groups: [[{ type: "age", recipient }]], shamirThreshold: 0, rule: null, macOnlyEncrypted: false }),
        ),
      );
      t.decrypt.floor.push(await time(() => floorDecrypt(key, sealed)));
      t.decrypt.coffer.push(await time(async () => (await openFile(encrypted, format, [identity], { ignoreMac: false })).doc.serialize()));
    }
    for (const op of ["encrypt", "decrypt"] as const) {
      const cofferMs = median(t[op].coffer);
      const floorMs = median(t[op].floor);
      cases.push({
        format,
        op,
        keys: FILE_KEYS,
        bytes: op === "encrypt" ? plain.byteLength : encrypted.byteLength,
        cofferMs,
        floorMs,
        ratio: cofferMs / floorMs,
      });
    }
  }
  return { machine: machine(), rounds, cases };
}

export function formatFilesText(r: FilesReport): string {
  const m = r.machine;
  const head = ["file", "op", "keys", "input bytes", "Coffer ms", "floor ms", "Coffer/floor"];
  const rows = r.cases.map((c) => [
    c.format,
    c.op,
    String(c.keys),
    String(c.bytes),
    c.cofferMs.toFixed(2),
    c.floorMs.toFixed(3),
    `${c.ratio.toFixed(1)}x`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  return [
    `Coffer files benchmark: Node ${m.node}, ${m.platform}, ${String(m.cores)} x ${m.cpu}, load ${m.loadAvg.toFixed(2)}`,
    `Coffer = the whole file operation (parse, per-value AES-256-GCM with the key path as AAD, SHA-512 MAC, age X25519 wrap/unwrap of the data key, serialize);`,
    `floor = bare AES-256-GCM (node:crypto) over the same ${String(FILE_KEYS)} values with one key; medians of ${String(r.rounds)} alternating rounds`,
    "",
    line(head),
    ...rows.map(line),
  ].join("\n");
}
