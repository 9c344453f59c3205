// `node bench/erase-cost.ts [N]`: how long `coffer erase` of a 10-secret owner takes (commit, VACUUM, TRUNCATE checkpoint) next to N other secrets on SQLite. Not part of `npm run bench`; see docs/erase.md.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/core/config/index.ts";
import { createCore, LOCAL_CONTEXT } from "../src/core/service/index.ts";
import { Secret } from "../src/core/secret/index.ts";
const n = Number(process.argv[2] ?? "10000");
const home = mkdtempSync(join(tmpdir(), "coffer-erase-cost-"));
const actor = { kind: "local", user: "bench" } as const;
const core = await createCore(loadConfig({ env: { COFFER_HOME: home, COFFER_KEK_PROVIDER: "file" } }), { migrate: true });
try {
  for (let i = 0; i < n; i++)
    await core.secrets.set(actor, LOCAL_CONTEXT, { owner: "project/big", key: `K${i}`, value: Secret.fromString("x".repeat(64)) });
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 10; i++)
      await core.secrets.set(actor, LOCAL_CONTEXT, {
        owner: `project/gone${round}`,
        key: `K${i}`,
        value: Secret.fromString("y".repeat(64)),
      });
    const t0 = performance.now();
    const r = await core.admin.erase.erase(actor, LOCAL_CONTEXT, {
      backupRetentionMs: null,
      owner: `project/gone${round}`,
      confirm: `project/gone${round}`,
    });
    const ms = performance.now() - t0;
    console.log(
      JSON.stringify({
        otherSecrets: n,
        dbBytes: statSync(join(home, "coffer.db")).size,
        eraseMs: Math.round(ms),
        scrub: r.scrub.complete,
      }),
    );
  }
} finally {
  await core.close();
  rmSync(home, { recursive: true, force: true });
}
