// Bundles the CLI into a few ES modules under dist/bundle, so `coffer` starts by loading a
// handful of files instead of the ~600 modules of its dependencies (start-up time is a
// target: `coffer run` within 3x of `node -e 0`, see docs/benchmarks.md). Commands stay
// lazy-loaded chunks. better-sqlite3's native addon (its JavaScript is bundled, see below), pino (loaded only when a log line is on), and
// the key-provider SDKs (@napi-rs/keyring, native; @aws-sdk/client-kms and its STS client, @google-cloud/kms,
// google-auth-library, @azure/keyvault-keys, @azure/identity: large, and the Google SDK reads its
// protos from disk; all imported dynamically only when that provider is configured) stay external.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

rmSync("dist/bundle", { recursive: true, force: true });

// Kysely in one file of its own, dist/bundle/kysely.js. Every chunk that needs it imports that
// file, and src/core/store/kysely-lazy.ts loads it on first use (BUNDLED_KYSELY below):
// one copy of Kysely, which `coffer run` on SQLite never loads (its statements run directly on
// better-sqlite3, src/core/store/sqlite-direct.ts).
const KYSELY_BUNDLE = "./kysely.js";
await build({
  stdin: { contents: 'export * from "kysely";\nexport * from "kysely/migration";\n', resolveDir: ".", loader: "js" },
  outfile: "dist/bundle/kysely.js",
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node22",
  minifySyntax: true,
  logLevel: "warning",
});
/** `kysely` and `kysely/migration` imports become imports of dist/bundle/kysely.js (all chunks sit beside it). */
const kyselyBundle = {
  name: "kysely-bundle",
  setup(b) {
    b.onResolve({ filter: /^kysely(\/migration)?$/ }, () => ({ path: KYSELY_BUNDLE, external: true }));
  },
};

// zod/mini in one file of its own, dist/bundle/zod-mini.js, like Kysely: the chunks that import it
// statically (the HTTP contract, the files) import that file, and src/core/model/zod-lazy.ts
// loads the same file on first use (BUNDLED_ZOD below): one copy of zod, which `coffer run`
// never loads (the core builds its schemas lazily and checks a run's inputs without them).
const ZOD_BUNDLE = "./zod-mini.js";
// Only the members Coffer uses (every use is `z.<name>` or `zod().<name>`, `z` being the
// namespace import or lazySchema's argument): `export *` would keep all of zod/mini (its
// locales and more, ~650 KB instead of ~100 KB) for every command that loads it.
const zodMini = await import("zod/mini");
const zodUsed = new Set();
for (const file of readdirSync("src", { recursive: true })) {
  if (!file.endsWith(".ts") || file.endsWith(".test.ts")) continue;
  for (const m of readFileSync(join("src", file), "utf8").matchAll(/\b(?:z|zod\(\))\.(\w+)/g)) if (m[1] in zodMini) zodUsed.add(m[1]);
}
await build({
  stdin: { contents: `export { ${[...zodUsed].sort().join(", ")} } from "zod/mini";\n`, resolveDir: ".", loader: "js" },
  outfile: "dist/bundle/zod-mini.js",
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node22",
  minifySyntax: true,
  logLevel: "warning",
});
/** `zod/mini` imports become imports of dist/bundle/zod-mini.js (all chunks sit beside it). */
const zodBundle = {
  name: "zod-bundle",
  setup(b) {
    b.onResolve({ filter: /^zod\/mini$/ }, () => ({ path: ZOD_BUNDLE, external: true }));
  },
};

/**
 * Node's built-in modules through `process.getBuiltinModule`, not as ES modules: Node builds an
 * ES module's namespace from every export, and that of node:fs includes `promises` (which loads
 * fs/promises, readline and the REPL history), node:crypto's `webcrypto`, node:net's
 * `BlockList`: several ms of every start (measured on `coffer run`). A static import gets a shim
 * that exports every export but those lazily loaded ones (importing one of them by name fails
 * the build; `process.getBuiltinModule` gives it where needed, as does the default import);
 * a dynamic `import("node:…")` is left to Node and gets the whole module.
 */
const LAZY_BUILTIN_EXPORTS = {
  "node:fs": ["promises", "ReadStream", "WriteStream", "FileReadStream", "FileWriteStream", "Utf8Stream"],
  "node:crypto": ["webcrypto", "subtle", "getRandomValues"],
  "node:net": ["BlockList", "SocketAddress"],
};
const builtinShim = {
  name: "builtin-shim",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => (args.kind === "dynamic-import" ? undefined : { path: args.path, namespace: "builtin" }));
    b.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => {
      const mod = process.getBuiltinModule(args.path);
      if (mod === undefined) throw new Error(`not a built-in module: ${args.path}`);
      const lazy = new Set(LAZY_BUILTIN_EXPORTS[args.path] ?? []);
      const names = Object.keys(mod).filter((k) => !lazy.has(k) && k !== "default" && /^[A-Za-z_$][\w$]*$/.test(k));
      const lines = [`const m = process.getBuiltinModule(${JSON.stringify(args.path)});`, "export default m;"];
      for (const n of names) lines.push(`export const ${n} = m.${n};`);
      return { contents: lines.join("\n"), loader: "js" };
    });
  },
};

/**
 * better-sqlite3's JavaScript is bundled (one chunk instead of about fifteen CommonJS files to
 * resolve and load on every start, ~3 ms of `coffer run`); its native addon is still found by
 * the package's own lib/binding.js, required from the installed package (where its __dirname
 * points at the prebuilt or compiled addon as always).
 */
const sqliteBinding = {
  name: "better-sqlite3-binding",
  setup(b) {
    b.onResolve({ filter: /^\.\/binding$/ }, (args) =>
      /[\\/]better-sqlite3[\\/]lib$/.test(args.resolveDir)
        ? { path: "better-sqlite3/lib/binding.js", namespace: "sqlite-binding" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "sqlite-binding" }, () => ({
      contents:
        'const { dirname, join } = require("node:path");\nmodule.exports = require(join(dirname(require.resolve("better-sqlite3")), "binding.js"));\n',
      loader: "js",
    }));
  },
};

const EXTERNAL = [
  "pino",
  "fastify",
  "prom-client",
  "@napi-rs/keyring",
  "@aws-sdk/client-kms",
  "@aws-sdk/nested-clients",
  "@google-cloud/kms",
  "google-auth-library",
  "@azure/keyvault-keys",
  "@azure/identity",
];
const CLI_OPTIONS = {
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node22",
  minifySyntax: true,
  external: EXTERNAL,
  // hash-wasm's ES module build: its "main" (picked for platform node) is a UMD file that carries
  // every algorithm's WebAssembly as base64 text (~280 KB evaluated on every start); the ES
  // build ("sideEffects": false) lets the bundle keep BLAKE3 alone.
  alias: { "hash-wasm": "hash-wasm/dist/index.esm.js" },
  define: { BUNDLED_KYSELY: JSON.stringify(KYSELY_BUNDLE), BUNDLED_ZOD: JSON.stringify(ZOD_BUNDLE) },
  banner: { js: "import { createRequire as __cofferRequire } from 'node:module'; const require = __cofferRequire(import.meta.url);" },
  logLevel: "warning",
};
await build({
  ...CLI_OPTIONS,
  entryPoints: ["src/cli/main.ts"],
  outdir: "dist/bundle",
  splitting: true,
  plugins: [kyselyBundle, zodBundle, builtinShim, sqliteBinding],
});

/** Imports matching `filter` as a CommonJS module that requires `file` (external, beside the bundle) when first used. */
function requiredOnUse(filter, file) {
  return {
    name: `required-on-use ${file}`,
    setup(b) {
      b.onResolve({ filter }, () => ({ path: file, namespace: "required-on-use" }));
      b.onResolve({ filter: /.*/, namespace: "required-on-use" }, (args) => ({ path: args.path, external: true }));
      b.onLoad({ filter: /.*/, namespace: "required-on-use" }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(args.path)});`,
        loader: "js",
      }));
    },
  };
}

/**
 * The lazily imported modules src/cli/run-main.ts hands to the CLI instead of running (a SOPS
 * file, remote mode, PostgreSQL) or a run never needs (import/export, keys status): in the
 * run bundle each is a module that fails to load, so a path run-main.ts should have handed over
 * fails closed (INTERNAL) instead of mixing the two bundles' modules.
 */
const NOT_IN_RUN = /^\.\.?\/(?:file-env|remote-backend|transfer|postgres-store|contract\/index)\.ts$/;
const notInRun = {
  name: "not-in-run",
  setup(b) {
    b.onResolve({ filter: NOT_IN_RUN }, (args) => ({ path: args.path, namespace: "not-in-run" }));
    b.onLoad({ filter: /.*/, namespace: "not-in-run" }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not in the run bundle (scripts/bundle.mjs)`)});`,
      loader: "js",
    }));
  },
};

// `coffer run` as one file of its own, dist/bundle/run-main.js (src/cli/run-main.ts), which
// bin/coffer.js loads instead of main.js: without chunks, a run loads one module instead of the
// twenty-odd of the CLI's run path (each resolved, read, compiled and linked on every start).
// Without chunks an external ES import would be a static import at its top, so Kysely and zod
// are `require`d when a module needing them first runs (the same module instances
// kysely-lazy.ts and zod-lazy.ts load), and anything run-main.ts does not run itself is left to
// the CLI's main.js (CLI_MAIN).
const CLI_MAIN = "./main.js";
await build({
  ...CLI_OPTIONS,
  entryPoints: { "run-main": "src/cli/run-main.ts" },
  outdir: "dist/bundle",
  define: { ...CLI_OPTIONS.define, CLI_MAIN: JSON.stringify(CLI_MAIN) },
  plugins: [
    { name: "cli-main", setup: (b) => b.onResolve({ filter: /^\.\/main\.js$/ }, () => ({ path: CLI_MAIN, external: true })) },
    notInRun,
    requiredOnUse(/^kysely(\/migration)?$/, KYSELY_BUNDLE),
    requiredOnUse(/^zod\/mini$/, ZOD_BUNDLE),
    builtinShim,
    sqliteBinding,
  ],
});

// The admin console (src/console, docs/console.md): one browser module, minified, no eval,
// served by `coffer serve` under /admin/ from dist/console. Works offline: nothing external.
rmSync("dist/console", { recursive: true, force: true });
await build({
  entryPoints: ["src/console/main.ts"],
  outfile: "dist/console/app.js",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome120", "firefox120", "safari17"],
  minify: true,
  legalComments: "none",
  logLevel: "warning",
});
mkdirSync("dist/console", { recursive: true });
copyFileSync("src/console/index.html", "dist/console/index.html");
copyFileSync("src/console/app.css", "dist/console/app.css");
