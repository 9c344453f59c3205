// The state MAC's share of a masked get (issue 10: at most ~10%). Coffer checks each secret
// row's state MAC on every read (src/core/service/secret-state.ts): the first read of a row
// in a process computes an HMAC-SHA-256; a repeated read of an unchanged row is compared
// against the row it verified. Timed here on the bench's own rows, with a fresh checker (an
// empty verified-row cache, as a new process has), so `firstUs` is the cost of a cold read.
import { secretRepo } from "../src/core/store/index.ts";
import { SecretStateMac } from "../src/core/service/secret-state.ts";
import type { Core } from "../src/core/service/index.ts";
import { OWNER_ID, OWNER_TYPE, type Workload } from "./common.ts";

export type StateMacCost = {
  readonly rows: number;
  /** µs per row, first check of a row (HMAC computed). */
  readonly firstUs: number;
  /** µs per row, the same rows again (verified-row cache). */
  readonly repeatUs: number;
};

export async function measureStateMac(core: Core, w: Workload, n: number): Promise<StateMacCost> {
  const rows: secretRepo.SecretRow[] = [];
  await core.store.read({ kind: "all", why: "bench: state MAC cost" }, async (db) => {
    for (let j = 0; j < n; j++) {
      const r = await secretRepo.findSecret(db, { ownerType: OWNER_TYPE, ownerId: OWNER_ID }, w.keys[w.order[j]!]!);
      if (r === null) throw new Error("state MAC bench: a seeded secret is missing");
      rows.push(r);
    }
  });
  const timed = async (state: SecretStateMac): Promise<number> =>
    core.store.read({ kind: "all", why: "bench: state MAC cost" }, async (db) => {
      const t0 = performance.now();
      for (const r of rows) await state.check(db, r);
      return ((performance.now() - t0) * 1000) / rows.length;
    });
  // Warm the code path (and the internal key) on a throwaway checker, then measure a fresh one.
  await timed(new SecretStateMac(core.keys));
  const state = new SecretStateMac(core.keys);
  const firstUs = await timed(state);
  const repeatUs = await timed(state);
  return { rows: rows.length, firstUs, repeatUs };
}
