import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";

// Records every module file the process loads (Node's synchronous module hooks) to LOAD_LOG.
const RECORDER = `import { registerHooks } from "node:module";
import { appendFileSync } from "node:fs";
const log = process.env.LOAD_LOG;
registerHooks({
  load(url, context, next) {
    if (log !== undefined && !url.startsWith("node:")) appendFileSync(log, url + "\\n");
    return next(url, context);
  },
});
`;

// `coffer run` is on the start-up path of the user's program (docs/benchmarks.md): on SQLite its
// statements run directly on better-sqlite3, so it must not load Kysely (kysely-lazy.ts); the
// core builds its zod schemas on first use and checks a run's inputs without them, so it must not
// load zod either (zod-lazy.ts); and it starts from one file, the run bundle (run-main.ts). Not a
// timing: which files a real run loads.
describe("coffer run start-up on SQLite", () => {
  let cli: CliHarness;
  before(() => {
    cli = new CliHarness();
    const set = cli.run(["secrets", "set", "project/app", "TOKEN", "--stdin"], { input: "tok-1" });
    assert.equal(set.status, 0, set.stderr);
  });
  after(() => {
    cli.cleanup();
  });

  it("reveals and injects without loading Kysely or zod", () => {
    const recorder = join(cli.home, "record-loads.mjs");
    const log = join(cli.home, "loaded.txt");
    writeFileSync(recorder, RECORDER);
    writeFileSync(log, "");
    const r = cli.run(["run", "--owner", "project/app", "--", process.execPath, "-e", "process.stdout.write(process.env.TOKEN ?? '')"], {
      env: { NODE_OPTIONS: `--import ${pathToFileURL(recorder).href}`, LOAD_LOG: log },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "tok-1");
    const loaded = readFileSync(log, "utf8").split("\n");
    // One module of Coffer's own: the run bundle (scripts/bundle.mjs), not the CLI's chunks.
    assert.deepEqual(
      loaded.filter((u) => u.includes("/dist/")).map((u) => u.slice(u.lastIndexOf("/dist/"))),
      ["/dist/bundle/run-main.js"],
    );
    assert.deepEqual(
      loaded.filter((u) => /\/kysely(\.js|\/)/.test(u)),
      [],
    );
    assert.deepEqual(
      loaded.filter((u) => /\/zod(-mini\.js|\/)/.test(u)),
      [],
    );
  });

  it("loads zod when a command parses an input it checks (a version)", () => {
    const log = join(cli.home, "loaded-get.txt");
    writeFileSync(log, "");
    const r = cli.run(["secrets", "get", "project/app", "TOKEN", "--version", "0"], {
      env: { NODE_OPTIONS: `--import ${pathToFileURL(join(cli.home, "record-loads.mjs")).href}`, LOAD_LOG: log },
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /INVALID_INPUT.*version: must be 1 or more/);
    assert.ok(
      readFileSync(log, "utf8")
        .split("\n")
        .some((u) => u.endsWith("/dist/bundle/zod-mini.js")),
    );
  });

  it("loads Kysely when a command needs a query it builds (the same database, afterwards)", () => {
    const log = join(cli.home, "loaded-list.txt");
    writeFileSync(log, "");
    const r = cli.run(["audit", "list", "--limit", "5"], {
      env: { NODE_OPTIONS: `--import ${pathToFileURL(join(cli.home, "record-loads.mjs")).href}`, LOAD_LOG: log },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /secret\.reveal/);
    assert.ok(
      readFileSync(log, "utf8")
        .split("\n")
        .some((u) => u.endsWith("/dist/bundle/kysely.js")),
    );
  });
});
