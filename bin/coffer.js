#!/usr/bin/env node
// The `coffer` command: checks the Node version, then hands over to the bundled CLI.
// A namespace import: a named one would fail to link on a Node without it, before the check below.
import * as nodeModule from "node:module";

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`error[USAGE]: Coffer needs Node.js 22.12 or newer (this is ${process.version}); run: . ./scripts/use-node.sh\n`);
  process.exit(2);
}
// V8 code cache on disk (os.tmpdir()/node-compile-cache): later starts skip compiling.
nodeModule.enableCompileCache?.();
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
