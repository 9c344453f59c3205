// `npm install && npm test` used to build twice: `prepare` builds on install, then `pretest`
// built again. Now `npm run build` ends by writing a digest of its inputs to dist/.build-stamp
// (`write`), and `pretest` builds only when `check` finds the inputs changed since (or no build):
//   node scripts/build-stamp.mjs write   record the inputs of the build just made
//   node scripts/build-stamp.mjs check   exit 0 when dist/ was built from the current inputs, else 1
// The digest covers the contents (not times) of every file the build reads: src/ without tests,
// the bundler script, the tsconfigs, package.json and the lock file.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const STAMP = join("dist", ".build-stamp");
const OUTPUTS = [join("dist", "bundle", "main.js"), join("dist", "sdk", "index.js")];
const FILES = ["scripts/bundle.mjs", "tsconfig.json", "tsconfig.build.json", "package.json", "package-lock.json"];

function inputs() {
  const src = readdirSync("src", { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && !d.name.endsWith(".test.ts"))
    .map((d) => join(d.parentPath, d.name));
  return [...src, ...FILES].filter((p) => existsSync(p)).sort();
}

function digest() {
  const h = createHash("sha256");
  for (const p of inputs()) h.update(`${p}\0${String(readFileSync(p).length)}\0`).update(readFileSync(p));
  return h.digest("hex");
}

const mode = process.argv[2];
if (mode === "write") {
  writeFileSync(STAMP, `${digest()}\n`);
} else if (mode === "check") {
  const fresh = existsSync(STAMP) && OUTPUTS.every((p) => existsSync(p)) && readFileSync(STAMP, "utf8").trim() === digest();
  if (fresh) process.stdout.write("dist/ is up to date with its sources: not building again\n");
  process.exit(fresh ? 0 : 1);
} else {
  process.stderr.write("usage: node scripts/build-stamp.mjs write|check\n");
  process.exit(2);
}
