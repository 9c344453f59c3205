// The state MAC's share of a masked get (issue 10: at most ~10%). Coffer checks each secret
// row's state MAC on every read (src/core/service/secrets/secret-state.ts): each read computes a
// BLAKE3 keyed hash (format 2; format 1's HMAC-SHA-256 is timed beside it for comparison) and
// nothing is remembered, so a repeated read costs what the first did. Timed here on the bench's
// own rows with a fresh checker (as a new process has), then the same rows again.
import { secretRepo } from "../src/core/store/index.ts";
import { AesKey } from "../src/core/crypto/index.ts";
import { SecretStateMac, verifiesAsFormat1 } from "../src/core/service/secrets/secret-state.ts";
import type { Core } from "../src/core/service/index.ts";
import { internals } from "../src/core/service/internals.ts";
import { OWNER_ID, OWNER_TYPE, type Workload } from "./common.ts";

/** Fresh checkers timed; each figure is the median over them. */
const ROUNDS = 5;

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

export type StateMacCost = {
  readonly rows: number;
  /** µs per row, first check of a row (MAC computed); median of {@link ROUNDS} fresh checkers. */
  readonly firstUs: number;
  /** µs per row, the same rows again (MAC'd again: no verification is remembered). */
  readonly repeatUs: number;
  /** µs per row for format 1's MAC (HMAC-SHA-256 over the same fields, and the comparison), for comparison. */
  readonly format1Us: number;
};

export async function measureStateMac(core: Core, w: Workload, n: number): Promise<StateMacCost> {
  const { store, keys } = internals(core);
  const rows: secretRepo.SecretRow[] = [];
  await store.read({ kind: "all", why: "bench: state MAC cost" }, async (db) => {
    for (let j = 0; j < n; j++) {
      const r = await secretRepo.findSecret(db, { ownerType: OWNER_TYPE, ownerId: OWNER_ID }, w.keys[w.order[j]!]!);
      if (r === null) throw new Error("state MAC bench: a seeded secret is missing");
      rows.push(r);
    }
  });
  const timed = async (state: SecretStateMac): Promise<number> =>
    store.read({ kind: "all", why: "bench: state MAC cost" }, async (db) => {
      const t0 = performance.now();
      for (const r of rows) await state.check(db, r);
      return ((performance.now() - t0) * 1000) / rows.length;
    });
  // Warm the code path (and the internal key) on a throwaway checker, then measure ROUNDS fresh
  // ones: the median of each figure (one pass is at the mercy of a GC or a scheduler tick).
  await timed(new SecretStateMac(keys));
  const firsts: number[] = [];
  const repeats: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const state = new SecretStateMac(keys);
    firsts.push(await timed(state));
    repeats.push(await timed(state));
  }
  const firstUs = median(firsts);
  const repeatUs = median(repeats);
  // Format 1, as every first read paid it before format 2: the HMAC and the comparison alone.
  const legacy = AesKey.generate();
  const format1 = (): number => {
    let ok = 0;
    const t0 = performance.now();
    for (const r of rows) if (verifiesAsFormat1(legacy, r, r.state_mac ?? new Uint8Array(0))) ok++;
    if (ok !== 0) throw new Error("state MAC bench: a format-2 MAC verified as format 1");
    return ((performance.now() - t0) * 1000) / rows.length;
  };
  format1();
  const format1Us = median(Array.from({ length: ROUNDS }, format1));
  return { rows: rows.length, firstUs, repeatUs, format1Us };
}
