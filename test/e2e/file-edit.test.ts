import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { BIN } from "../fixtures/cli.ts";

const hasScript = spawnSync("script", ["--version"]).status === 0;

/**
 * A scripted editor: on its n-th run it applies step n of $EDIT_STEPS (JSON) to the file and
 * records the path it was given. A step replaces text, appends text, or (with `rename`) saves by
 * writing a new file and renaming it over the old one, as some editors do (new mode: 0644).
 */
const EDITOR_SOURCE = `import { appendFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";
const file = process.argv[2];
const count = Number(readFileSync(process.env.EDIT_COUNT, "utf8") || "0");
writeFileSync(process.env.EDIT_COUNT, String(count + 1));
appendFileSync(process.env.EDIT_LOG, file + "\\n");
const step = JSON.parse(process.env.EDIT_STEPS)[count] ?? {};
let text = readFileSync(file, "utf8");
for (const [a, b] of step.replace ?? []) text = text.replace(a, b);
if (step.append) text += step.append;
if (step.rename) { writeFileSync(file + ".new", text, { mode: 0o644 }); renameSync(file + ".new", file); }
else writeFileSync(file, text);
`;

type Step = { replace?: [string, string][]; append?: string; rename?: boolean };
type Result = { status: number | null; stdout: string; stderr: string };

/**
 * `coffer file edit` with a scripted $EDITOR (real child processes): the count of newly
 * encrypted values is what changed, and an edit the file format refuses is never thrown away
 * (kept in a private temporary file without a terminal; the editor re-opened on one).
 */
describe("coffer file edit: counts, and edits with a syntax error", () => {
  let dir: string;
  let recipient: string;
  let env: Record<string, string>;
  const editor = (): string => join(dir, "editor.mjs");

  /** One `coffer` run; `steps` are for the editor runs within it (the count starts again). */
  const run = (args: readonly string[], steps: readonly Step[]): Result => {
    writeFileSync(join(dir, "count"), "");
    const r = spawnSync(process.execPath, [BIN, ...args], {
      cwd: dir,
      input: "",
      encoding: "utf8",
      timeout: 60_000,
      env: { ...env, EDIT_STEPS: JSON.stringify(steps) },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const decrypted = (name: string): string => {
    const r = spawnSync(process.execPath, [BIN, "file", "decrypt", name], { cwd: dir, encoding: "utf8", env });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const editedPaths = (): string[] =>
    readFileSync(env["EDIT_LOG"] ?? "", "utf8")
      .split("\n")
      .filter(Boolean);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "coffer-edit-test-"));
    const identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
    writeFileSync(join(dir, "key.txt"), `${identity}\n`, { mode: 0o600 });
    writeFileSync(editor(), `#!${process.execPath}\n${EDITOR_SOURCE}`);
    chmodSync(editor(), 0o755);
    env = {
      PATH: process.env["PATH"] ?? "",
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, "xdg"),
      COFFER_HOME: join(dir, "home"),
      SOPS_AGE_KEY_FILE: join(dir, "key.txt"),
      EDITOR: editor(),
      EDIT_COUNT: join(dir, "count"),
      EDIT_LOG: join(dir, "edit.log"),
    };
  });
  beforeEach(() => {
    writeFileSync(join(dir, "count"), "");
    writeFileSync(join(dir, "edit.log"), "");
    writeFileSync(join(dir, "s.yaml"), "# settings\ndb:\n  user: admin\n  password: hunter2\nport: 5432\ntokens:\n  - one\n  - two\n");
    const r = spawnSync(process.execPath, [BIN, "file", "encrypt", "--in-place", "--age", recipient, "s.yaml"], {
      cwd: dir,
      env,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("no change: says so, rewrites nothing, and the temporary file is gone", () => {
    const before = readFileSync(join(dir, "s.yaml"));
    const r = run(["file", "edit", "s.yaml"], [{}]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "edit: s.yaml: no changes; the file was not rewritten\n");
    assert.deepEqual(readFileSync(join(dir, "s.yaml")), before);
    assert.equal(existsSync(editedPaths()[0] ?? ""), false);
  });

  it("counts exactly the values changed or added (never 0 or -1 after a change), the rest kept", () => {
    const one = run(["file", "edit", "s.yaml"], [{ replace: [["hunter2", "hunter3"]] }]);
    assert.equal(one.status, 0, one.stderr);
    // 6 encrypted leaves: the comment, user, password, port, and the two list items.
    assert.match(one.stderr, /^edit: s\.yaml: saved; 1 values or comments newly encrypted, 5 kept as they were\n$/);
    const three = run(
      ["file", "edit", "s.yaml"],
      [
        {
          replace: [
            ["port: 5432", "port: 6543"],
            ["- two", "- deux"],
          ],
          append: "extra: new\n",
        },
      ],
    );
    assert.equal(three.status, 0, three.stderr);
    assert.match(three.stderr, /: saved; 3 values or comments newly encrypted, 4 kept as they were\n$/);
    // Only layout changed: saved with 0 newly encrypted, every value kept.
    const layout = run(["file", "edit", "s.yaml"], [{ append: "\n" }]);
    assert.equal(layout.status, 0, layout.stderr);
    assert.match(layout.stderr, /: saved; 0 values or comments newly encrypted, 7 kept as they were\n$/);
    assert.match(decrypted("s.yaml"), /password: hunter3\nport: 6543\n[\s\S]*- deux\nextra: new\n/);
  });

  it("without a terminal, a syntax error keeps the edited text in a private 0600 file, says where, exits 2, writes nothing", () => {
    const before = readFileSync(join(dir, "s.yaml"));
    for (const rename of [false, true]) {
      const r = run(["file", "edit", "s.yaml"], [{ replace: [["hunter2", "hunter3"]], append: "broken: [unclosed\n", rename }]);
      assert.equal(r.status, 2, r.stderr);
      const m =
        /^error\[INVALID_INPUT\]: line \d+: not valid YAML.*; nothing was written, and your edited text is kept in (\S+) \(readable only by you\)/.exec(
          r.stderr,
        );
      assert.ok(m !== null, r.stderr);
      const kept = m[1] ?? "";
      assert.equal(kept, editedPaths().at(-1));
      assert.equal(statSync(kept).mode & 0o777, 0o600, `rename ${String(rename)}`);
      assert.equal(statSync(join(kept, "..")).mode & 0o777, 0o700);
      const text = readFileSync(kept, "utf8");
      assert.match(text, /password: hunter3\n/);
      assert.match(text, /broken: \[unclosed\n$/);
      assert.deepEqual(readFileSync(join(dir, "s.yaml")), before, "the encrypted file is untouched");
      rmSync(join(kept, ".."), { recursive: true, force: true });
    }
  });

  describe("on a terminal", { skip: hasScript ? false : "util-linux script is not installed" }, () => {
    /** `coffer file edit` on a real pseudo-terminal (util-linux `script`), answering the prompt. */
    async function onTty(steps: readonly Step[], answer: string): Promise<{ code: number | null; screen: string }> {
      const cmd = [process.execPath, BIN, "file", "edit", "s.yaml"].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
      const child = spawn("script", ["-qec", cmd, "/dev/null"], {
        cwd: dir,
        env: { ...env, EDIT_STEPS: JSON.stringify(steps) },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let screen = "";
      let answered = 0;
      child.stdout.setEncoding("utf8");
      child.stdout.on("data", (d: string) => {
        screen += d;
        const asked = screen.split("Re-open the editor to fix it? [Y/n] ").length - 1;
        if (asked > answered) {
          answered = asked;
          child.stdin.write(answer);
        }
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      clearTimeout(timer);
      return { code, screen };
    }

    it("a syntax error re-opens the editor on the edited text; the fixed edit is saved with the right count", async () => {
      const r = await onTty(
        [{ replace: [["hunter2", "hunter3"]], append: "broken: [unclosed\n" }, { replace: [["broken: [unclosed", "fixed: closed"]] }],
        "\r",
      );
      assert.equal(r.code, 0, r.screen);
      assert.match(r.screen, /error\[INVALID_INPUT\]: line \d+: not valid YAML/);
      assert.match(r.screen, /saved; 2 values or comments newly encrypted, 5 kept as they were/);
      const paths = editedPaths();
      assert.equal(paths.length, 2);
      assert.equal(paths[0], paths[1], "the same file, with the first edit in it");
      assert.equal(existsSync(paths[0] ?? ""), false, "removed once saved");
      assert.match(decrypted("s.yaml"), /password: hunter3\n[\s\S]*fixed: closed\n/);
    });

    it("answering no keeps the edited text in the private file, says where, exits non-zero", async () => {
      const before = readFileSync(join(dir, "s.yaml"));
      const r = await onTty([{ replace: [["hunter2", "hunter3"]], append: "broken: [unclosed\n" }], "n\r");
      assert.equal(r.code, 2, r.screen);
      const kept = editedPaths()[0] ?? "";
      assert.ok(r.screen.replace(/\r?\n/g, "").includes(`your edited text is kept in ${kept}`), r.screen);
      assert.equal(statSync(kept).mode & 0o777, 0o600);
      assert.match(readFileSync(kept, "utf8"), /password: hunter3\n/);
      assert.deepEqual(readFileSync(join(dir, "s.yaml")), before);
      rmSync(join(kept, ".."), { recursive: true, force: true });
    });
  });
});
