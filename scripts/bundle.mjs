// Bundles the CLI into a few ES modules under dist/bundle, so `coffer` starts by loading a
// handful of files instead of the ~600 modules of its dependencies (start-up time is a
// target: `coffer run` within 3x of `node -e 0`, see docs/benchmarks.md). Commands stay
// lazy-loaded chunks. better-sqlite3 (native), pino (loaded only when a log line is on), and
// the key-provider SDKs (@napi-rs/keyring, native; @aws-sdk/client-kms, @google-cloud/kms,
// google-auth-library, @azure/keyvault-keys, @azure/identity: large, and the Google SDK reads its
// protos from disk; all imported dynamically only when that provider is configured) stay external.
import { rmSync } from "node:fs";
import { build } from "esbuild";

rmSync("dist/bundle", { recursive: true, force: true });

await build({
  entryPoints: ["src/cli/main.ts"],
  outdir: "dist/bundle",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node22",
  minifySyntax: true,
  external: [
    "better-sqlite3",
    "pino",
    "fastify",
    "prom-client",
    "@napi-rs/keyring",
    "@aws-sdk/client-kms",
    "@google-cloud/kms",
    "google-auth-library",
    "@azure/keyvault-keys",
    "@azure/identity",
  ],
  banner: { js: "import { createRequire as __cofferRequire } from 'node:module'; const require = __cofferRequire(import.meta.url);" },
  logLevel: "warning",
});
