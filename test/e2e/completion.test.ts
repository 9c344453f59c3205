import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CliHarness } from "../fixtures/cli.ts";

/** Runs `script` in a real bash (no rc files) and returns its stdout. */
function bash(script: string): string {
  const r = spawnSync("bash", ["--norc", "--noprofile", "-c", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe("coffer completion", () => {
  const cli = new CliHarness();
  after(() => {
    cli.cleanup();
  });

  it("prints a bash script that registers itself and completes commands, subcommands and options from the registry", () => {
    const r = cli.run(["completion", "bash"]);
    assert.equal(r.status, 0, r.stderr);
    const file = join(cli.home, "coffer.bash");
    writeFileSync(file, r.stdout);
    const complete = (words: readonly string[]): string[] =>
      bash(
        `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${String(words.length - 1)}; _coffer; printf '%s\\n' "\${COMPREPLY[@]}"`,
      )
        .split("\n")
        .filter((w) => w !== "");
    assert.match(bash(`source ${file}; complete -p coffer`), /complete .*-F _coffer coffer/);
    assert.deepEqual(
      complete(["coffer", ""])
        .filter((w) => !w.startsWith("-"))
        .sort(),
      [
        "audit",
        "completion",
        "erase",
        "file",
        "import",
        "keys",
        "migrate",
        "policy",
        "render",
        "run",
        "secrets",
        "serve",
        "template",
        "token",
      ],
    );
    assert.deepEqual(complete(["coffer", "token", ""]).sort(), ["--help", "create", "list", "revoke"]);
    assert.deepEqual(complete(["coffer", "secrets", "se"]), ["set"]);
    assert.ok(complete(["coffer", "secrets", "set", "project/acme", "--"]).includes("--expect-version"));
    assert.deepEqual(complete(["coffer", "--home", "/tmp/x", "keys", "rot"]), ["rotate"]);
    assert.ok(complete(["coffer", "token", "list", "--r"]).includes("--remote"));
  });

  it("prints zsh and fish scripts naming every command", () => {
    for (const shell of ["zsh", "fish"]) {
      const r = cli.run(["completion", shell]);
      assert.equal(r.status, 0, r.stderr);
      for (const word of ["secrets", "token", "keys", "erase", "revoke", "--expect-version"])
        assert.ok(r.stdout.includes(word.startsWith("--") ? word.slice(2) : word), `${shell}: ${word}`);
    }
    assert.match(cli.run(["completion", "zsh"]).stdout, /^#compdef coffer\n/);
    assert.match(cli.run(["completion", "fish"]).stdout, /complete -c coffer -n __fish_use_subcommand -a 'secrets'/);
  });

  it("refuses an unknown shell with USAGE", () => {
    const r = cli.run(["completion", "powershell"]);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, "error[USAGE]: shell: must be one of bash, zsh, fish\n");
  });

  it("ends every command's --help with an example", async () => {
    const { COMMANDS } = await import("../../src/cli/program.ts");
    for (const e of COMMANDS) {
      const r = cli.run([...e.path.split(" "), "--help"]);
      assert.equal(r.status, 0, `${e.path}: ${r.stderr}`);
      assert.match(r.stdout, /\nExamples?:\n( {2}\S.*\n)+\n?$/, `${e.path} --help`);
    }
  });
});
