#!/usr/bin/env node
// The `coffer` command: checks the Node version, then hands over to the bundled CLI.
// A namespace import: a named one would fail to link on a Node without it, before the check below.
import * as nodeModule from "node:module";
import { lstatSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`error[USAGE]: Coffer needs Node.js 22.12 or newer (this is ${process.version}); run: . ./scripts/use-node.sh\n`);
  process.exit(2);
}
// V8 code cache on disk: later starts skip compiling. V8 trusts the bytecode it finds there,
// so never Node's default (os.tmpdir()/node-compile-cache, which anyone on the machine could
// create first and fill): a directory of this user's own, 0700, and none at all when that
// cannot be had.
const cacheDir = privateCacheDir();
if (cacheDir !== null) nodeModule.enableCompileCache?.(cacheDir);
// `coffer run` starts from a bundle of its own, one file (scripts/bundle.mjs, src/cli/run-main.ts).
const { main } = await import(process.argv[2] === "run" ? "../dist/bundle/run-main.js" : "../dist/bundle/main.js");
// The standard streams as getters: Node builds each stream object on first access (a few ms
// each at start-up), and `coffer run` usually touches none of them.
process.exitCode = await main(process.argv.slice(2), {
  get stdin() {
    return process.stdin;
  },
  get stdout() {
    return process.stdout;
  },
  get stderr() {
    return process.stderr;
  },
  env: process.env,
});

/**
 * `$XDG_CACHE_HOME/coffer/compile-cache` (else `~/.cache/…`), created 0700; null unless it is a
 * real directory owned by this user that nobody else can write to.
 */
function privateCacheDir() {
  try {
    const xdg = process.env.XDG_CACHE_HOME;
    const base = xdg !== undefined && isAbsolute(xdg) ? xdg : join(homedir(), ".cache");
    const dir = join(base, "coffer", "compile-cache");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const uid = process.getuid?.();
    for (const d of [join(base, "coffer"), dir]) {
      const st = lstatSync(d);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) return null;
    }
    return dir;
  } catch {
    return null;
  }
}
