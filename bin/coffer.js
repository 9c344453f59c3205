#!/usr/bin/env node
// The `coffer` command. The only place that calls process.exit.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`error[USAGE]: Coffer needs Node.js 22.12 or newer (this is ${process.version}); run: . ./scripts/use-node.sh\n`);
  process.exit(2);
}
const { main } = await import("../dist/cli/main.js");
const code = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
process.exitCode = code;
