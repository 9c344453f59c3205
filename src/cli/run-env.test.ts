import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CREDENTIAL_VARS, envValueOf, isCredentialVar, isEnvName, isLoaderName, planChildEnv, resolveCommand } from "./run-env.ts";

const text = (s: string) => envValueOf(new TextEncoder().encode(s));

describe("coffer run's environment rules", () => {
  it("treats every name the issue lists, and the well-known others, as loader names (any case)", () => {
    const listed = ["PATH", "LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "DYLD_INSERT_LIBRARIES", "NODE_OPTIONS", "NODE_PATH", "BASH_ENV"];
    const more = ["ENV", "IFS", "SHELLOPTS", "PS4", "PROMPT_COMMAND", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PERL5LIB", "PERL5OPT"];
    const rest = ["RUBYOPT", "RUBYLIB", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "GCONV_PATH", "COFFER_TOKEN", "COFFER_ANYTHING"];
    const extra = ["BASHOPTS", "GLIBC_TUNABLES", "MALLOC_CHECK_", "GIT_SSH_COMMAND", "GIT_CONFIG_COUNT", "LUA_INIT", "path", "Ld_Preload"];
    for (const n of [...listed, ...more, ...rest, ...extra]) assert.ok(isLoaderName(n), n);
    for (const n of ["DB_PASSWORD", "NODE_ENV", "PATHS", "MY_PATH", "API_KEY", "LDAP_URL", "HOME"]) assert.ok(!isLoaderName(n), n);
  });

  it("accepts POSIX names plus . and -, and nothing else", () => {
    for (const n of ["A", "_a", "DB_PASSWORD", "app.port", "my-key", "a1"]) assert.ok(isEnvName(n), n);
    for (const n of ["", "1ST", "bad name", "x;y", "a=b", "a\nb", "BASH_FUNC_f%%", "-x", ".x", "é"]) assert.ok(!isEnvName(n), n);
  });

  it("lists Coffer's credential variables and catches future ones by shape", () => {
    for (const n of CREDENTIAL_VARS) assert.ok(isCredentialVar(n), n);
    for (const n of ["COFFER_NEW_TOKEN", "COFFER_X_PASSWORD"]) assert.ok(isCredentialVar(n), n);
    for (const n of ["COFFER_HOME", "COFFER_LOG_LEVEL", "COFFER_ADDR", "COFFER_KEK_PROVIDER", "TOKEN"]) assert.ok(!isCredentialVar(n), n);
  });

  it("removes inherited credentials unless kept, and injects only what passes the rules", () => {
    const inherited = {
      PATH: "/usr/bin",
      COFFER_TOKEN: "t",
      COFFER_KEK_BASE64_FILE: "/k",
      COFFER_DB_URL: "postgres://u:p@h/d",
      COFFER_HOME: "/h",
      KEEP: "k",
    };
    const values = new Map([
      ["PATH", text("/evil")],
      ["NODE_OPTIONS", text("--require x")],
      ["bad name", text("x")],
      ["KEEP", text("new")],
      ["DB", text("pw")],
    ]);
    const plan = planChildEnv(inherited, values, { override: false, allow: new Set(), keep: new Set(["COFFER_DB_URL"]) });
    assert.deepEqual(plan.env, { PATH: "/usr/bin", COFFER_DB_URL: "postgres://u:p@h/d", COFFER_HOME: "/h", KEEP: "k", DB: "pw" });
    assert.deepEqual(
      plan.skipped.map((s) => [s.name, s.why]),
      [
        ["PATH", "loader"],
        ["NODE_OPTIONS", "loader"],
        ["bad name", "not-an-env-name"],
      ],
    );
    const allowed = planChildEnv({}, values, { override: true, allow: new Set(["NODE_OPTIONS"]), keep: new Set() });
    assert.equal(allowed.env["NODE_OPTIONS"], "--require x");
  });

  it("refuses NUL bytes and non-UTF-8 values by key name only", () => {
    const values = new Map([
      ["A", text("ok")],
      ["N", text("x\0SECRET")],
      ["B", envValueOf(Uint8Array.of(0xff))],
      ["R", envValueOf(null)],
    ]);
    assert.throws(
      () => planChildEnv({}, values, { override: true, allow: new Set(), keep: new Set() }),
      (e: Error & { code?: string }) =>
        e.code === "VALUE_NOT_ENV_SAFE" &&
        !e.message.includes("SECRET") &&
        e.message.includes("N (contains a NUL byte), B (not UTF-8 text), R (not UTF-8 text)"),
    );
  });

  describe("resolveCommand", () => {
    const dir = mkdtempSync(join(tmpdir(), "coffer-resolve-"));
    writeFileSync(join(dir, "tool"), "#!/bin/sh\n");
    chmodSync(join(dir, "tool"), 0o755);
    writeFileSync(join(dir, "plain"), "not executable");
    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    it("searches the caller's PATH in order, skipping non-executables", () => {
      assert.equal(resolveCommand("tool", `/nonexistent:${dir}`, "/"), join(dir, "tool"));
      assert.throws(() => resolveCommand("plain", dir, "/"), /command not found: plain/);
      assert.throws(() => resolveCommand("tool", "/nonexistent", "/"), /command not found: tool/);
    });
    it("takes a command with a / as a path from the working directory", () => {
      assert.equal(resolveCommand("./tool", "/nonexistent", dir), join(dir, "tool"));
      assert.throws(() => resolveCommand("./missing", dir, dir), /command not found/);
    });
  });
});
