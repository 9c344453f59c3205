// The cost the failed-authentication guard adds to authenticating a (cached) token, in process:
// `node bench/auth-guard.ts`. Not part of `npm run bench`; a quick check for issue 10 point 9.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/core/config/index.ts";
import { createCore } from "../src/core/service/index.ts";

const home = mkdtempSync(join(tmpdir(), "coffer-bench-auth-"));
const core = await createCore(loadConfig({ env: { COFFER_HOME: home } }), { migrate: true });
const created = await core.tokens.create(
  { kind: "local", user: "b" },
  { requestId: null, clientAddr: null },
  { name: "b", scopes: ["admin"], owners: ["*"] },
);
const tok = created.token.revealText();
const N = 20000;
for (const label of ["cached token, no address (no guard)", "cached token, with address (guard peek)"]) {
  const ctx = label.includes("with") ? { requestId: null, clientAddr: "192.0.2.1" } : undefined;
  for (let i = 0; i < 2000; i++) await core.tokens.authenticate(tok, ctx);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await core.tokens.authenticate(tok, ctx);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / N;
  console.log(`${label}: ${us.toFixed(1)} µs/auth`);
}
await core.close();
rmSync(home, { recursive: true, force: true });
