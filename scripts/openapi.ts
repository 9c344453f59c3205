// Writes docs/openapi.json from the contract's schemas (`npm run openapi`); `--check` exits 1
// when the committed file differs from what the contract generates (test/openapi.test.ts does too).
import { readFileSync, writeFileSync } from "node:fs";
import { openApiDocument } from "../src/contract/openapi.ts";

const FILE = new URL("../docs/openapi.json", import.meta.url);
const text = `${JSON.stringify(openApiDocument(), null, 2)}\n`;
if (process.argv.includes("--check")) {
  let committed = "";
  try {
    committed = readFileSync(FILE, "utf8");
  } catch {
    // missing: differs
  }
  if (committed !== text) {
    console.error("docs/openapi.json is out of date: run npm run openapi");
    process.exit(1);
  }
} else {
  writeFileSync(FILE, text);
}
