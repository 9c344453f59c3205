import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createDecipheriv } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { generateHybridIdentity, generateX25519Identity, identityToRecipient } from "age-encryption";
import { decryptSops } from "sops-age";
import { parse as parseYaml } from "yaml";
import { BIN } from "../fixtures/cli.ts";

// Canary values: planted in plaintext files; they must never show up in anything the CLI prints
// (except `decrypt`'s stdout, which is the plaintext on purpose and is kept out of the transcript).
const CANARY_A = "canary-7f3a9c1e-db-password";
const CANARY_B = "canary-0b5d2e8f-api-token";

const PLAIN_YAML = `# database settings
db:
  user: admin # the login
  password: ${CANARY_A}
port: 5432
ratio: 1.5
enabled: true
tokens:
  - ${CANARY_B}
  - second
note_unencrypted: readable
`;
const PLAIN_JSON = `{\n\t"zeta": "${CANARY_A}",\n\t"10": 7,\n\t"alpha": {\n\t\t"pi": 3.14,\n\t\t"on": false\n\t}\n}\n`;
const PLAIN_ENV = `# comment line\nDB_PASSWORD=${CANARY_A}\nLITERAL=$HOME and \${PATH} stay 'as is' "quoted"\nAPI_TOKEN=${CANARY_B}\n`;

type Result = { status: number | null; stdout: string; stderr: string };

describe("coffer file (SOPS-compatible files, real child processes)", () => {
  let dir: string;
  let identity: string;
  let recipient: string;
  let keyFile: string;
  const transcript: string[] = [];
  const run = (args: readonly string[], opts: { env?: Record<string, string>; keepStdout?: boolean; input?: string } = {}): Result => {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      cwd: dir,
      input: opts.input ?? "",
      encoding: "utf8",
      timeout: 60_000,
      env: { PATH: process.env["PATH"] ?? "", HOME: dir, XDG_CONFIG_HOME: join(dir, "xdg"), COFFER_HOME: join(dir, "home"), ...opts.env },
    });
    transcript.push(r.stderr);
    if (opts.keepStdout !== true) transcript.push(r.stdout);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const withKey = { SOPS_AGE_KEY_FILE: "" };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "coffer-files-"));
    identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
    keyFile = join(dir, "key.txt");
    writeFileSync(keyFile, `# test key\n${identity}\n`, { mode: 0o600 });
    withKey.SOPS_AGE_KEY_FILE = keyFile;
    writeFileSync(join(dir, "s.yaml"), PLAIN_YAML);
    writeFileSync(join(dir, "s.json"), PLAIN_JSON);
    writeFileSync(join(dir, "s.env"), PLAIN_ENV);
    writeFileSync(join(dir, "blob.bin"), Buffer.from([0, 1, 2, 255, 10, 13]));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const encrypt = (name: string, extra: readonly string[] = []): string => {
    const r = run(["file", "encrypt", "--age", recipient, ...extra, name]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const decrypt = (name: string, extra: readonly string[] = []): Result =>
    run(["file", "decrypt", ...extra, name], { env: withKey, keepStdout: true });

  it("encrypts YAML, JSON, dotenv and binary and decrypts each back byte for byte", () => {
    for (const [plain, out] of [
      ["s.yaml", "s.enc.yaml"],
      ["s.json", "s.enc.json"],
      ["s.env", "s.enc.env"],
      ["blob.bin", "blob.enc"],
    ] as const) {
      writeFileSync(
        join(dir, out),
        encrypt(plain, plain === "blob.bin" ? ["--output", join(dir, out)] : []) || readFileSync(join(dir, out)),
      );
      const r = run(
        ["file", "decrypt", ...(plain === "blob.bin" ? ["--input-type", "binary", "--output", join(dir, "blob.out")] : []), out],
        { env: withKey, keepStdout: true },
      );
      assert.equal(r.status, 0, r.stderr);
      if (plain === "blob.bin") assert.deepEqual(readFileSync(join(dir, "blob.out")), readFileSync(join(dir, "blob.bin")));
      // As `sops -d` prints it: a line comment moves to its own line above the entry.
      else if (plain === "s.yaml")
        assert.equal(
          r.stdout,
          PLAIN_YAML.replaceAll("\n  ", "\n    ").replace("    user: admin # the login\n", "    # the login\n    user: admin\n"),
        );
      else assert.equal(r.stdout, readFileSync(join(dir, plain), "utf8"));
    }
  });

  it("writes values as ENC[AES256_GCM,…] with types, keeps keys, order and comments, and leaves _unencrypted values readable", () => {
    const text = readFileSync(join(dir, "s.enc.yaml"), "utf8");
    assert.match(
      text,
      /^#ENC\[AES256_GCM,data:[^\]]+,type:comment\]\ndb:\n {4}#ENC\[[^\]]+type:comment\]\n {4}user: ENC\[AES256_GCM,data:[^\]]+,type:str\]\n/,
    );
    assert.match(text, /\nport: ENC\[AES256_GCM,[^\]]+,type:int\]\nratio: ENC\[[^\]]+type:float\]\nenabled: ENC\[[^\]]+type:bool\]/);
    assert.match(text, /\nnote_unencrypted: readable\n/);
    assert.match(text, /\n {4}lastmodified: "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\n {4}mac: ENC\[/);
    assert.match(text, /\n {4}version: 3\.13\.2\n$/);
    const json = readFileSync(join(dir, "s.enc.json"), "utf8");
    assert.ok(json.indexOf('"zeta"') < json.indexOf('"10"') && json.indexOf('"10"') < json.indexOf('"alpha"'), "JSON key order kept");
    const env = readFileSync(join(dir, "s.enc.env"), "utf8");
    assert.match(env, /^#ENC\[[^\]]+type:comment\]\nDB_PASSWORD=ENC\[/);
    assert.match(env, /\nsops_age__list_0__map_enc=-----BEGIN AGE ENCRYPTED FILE-----\\n/);
  });

  it("keeps dotenv values byte for byte: no $ expansion, no quote stripping", () => {
    const r = decrypt("s.enc.env");
    assert.match(r.stdout, /\nLITERAL=\$HOME and \$\{PATH\} stay 'as is' "quoted"\n/);
  });

  it("writes files the independent sops-age decoder opens", async () => {
    assert.deepEqual(
      await decryptSops(readFileSync(join(dir, "s.enc.yaml"), "utf8"), { secretKey: identity, fileType: "yaml" }),
      parseYaml(PLAIN_YAML),
    );
    // sops-age drops all-digit path components (it takes them for list indices), so its JSON
    // check uses a file without the "10" key; sops itself puts map keys in the AAD whatever they are.
    writeFileSync(join(dir, "n.json"), PLAIN_JSON.replace('\t"10": 7,\n', ""));
    assert.deepEqual(await decryptSops(encrypt("n.json"), { secretKey: identity, fileType: "json" }), {
      zeta: CANARY_A,
      alpha: { pi: 3.14, on: false },
    });
    const env = (await decryptSops(readFileSync(join(dir, "s.enc.env"), "utf8"), { secretKey: identity, fileType: "env" })) as Record<
      string,
      string
    >;
    assert.equal(env["DB_PASSWORD"], CANARY_A);
    assert.equal(env["API_TOKEN"], CANARY_B);
  });

  it("wraps a data key that Debian's age CLI opens, and that key decrypts the values", () => {
    const meta = (parseYaml(readFileSync(join(dir, "s.enc.yaml"), "utf8")) as { sops: { age: { enc: string }[] } }).sops;
    const enc = meta.age[0]?.enc ?? "";
    assert.match(
      enc,
      /^-----BEGIN AGE ENCRYPTED FILE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END AGE ENCRYPTED FILE-----\n$/,
    );
    const age = spawnSync("age", ["-d", "-i", keyFile], { input: enc });
    assert.equal(age.status, 0, age.stderr.toString());
    const dataKey = age.stdout;
    assert.equal(dataKey.byteLength, 32);
    const value = (parseYaml(readFileSync(join(dir, "s.enc.yaml"), "utf8")) as { db: { password: string } }).db.password;
    const m = /data:([^,]*),iv:([^,]+),tag:([^,]+),type:str/.exec(value);
    assert.ok(m);
    const d = createDecipheriv("aes-256-gcm", dataKey, Buffer.from(m[2] ?? "", "base64"));
    d.setAAD(Buffer.from("db:password:"));
    d.setAuthTag(Buffer.from(m[3] ?? "", "base64"));
    assert.equal(Buffer.concat([d.update(Buffer.from(m[1] ?? "", "base64")), d.final()]).toString(), CANARY_A);
  });

  it("encrypts to a post-quantum hybrid recipient (age1pq1…) and decrypts with its identity", async () => {
    const pq = await generateHybridIdentity();
    const pqRecipient = await identityToRecipient(pq);
    assert.match(pqRecipient, /^age1pq1/);
    const r = run(["file", "encrypt", "--age", pqRecipient, "s.yaml"]);
    assert.equal(r.status, 0, r.stderr);
    writeFileSync(join(dir, "pq.enc.yaml"), r.stdout);
    const back = run(["file", "decrypt", "pq.enc.yaml"], { env: { SOPS_AGE_KEY: pq }, keepStdout: true });
    assert.equal(back.status, 0, back.stderr);
    assert.deepEqual(parseYaml(back.stdout), parseYaml(PLAIN_YAML));
  });

  it("refuses a file whose MAC does not verify, with MAC_MISMATCH; --ignore-mac decrypts and warns loudly", () => {
    const tampered = readFileSync(join(dir, "s.enc.yaml"), "utf8").replace("note_unencrypted: readable", "note_unencrypted: changed");
    writeFileSync(join(dir, "tampered.enc.yaml"), tampered);
    const r = decrypt("tampered.enc.yaml");
    assert.equal(r.status, 4);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^error\[MAC_MISMATCH\]: sops\.mac: .*--ignore-mac/);
    const forced = decrypt("tampered.enc.yaml", ["--ignore-mac"]);
    assert.equal(forced.status, 0);
    assert.match(forced.stderr, /WARNING: .*MAC does not verify/);
  });

  it("refuses a value moved to another key (AAD) with DECRYPT_FAILED naming the path only", () => {
    const text = readFileSync(join(dir, "s.enc.yaml"), "utf8");
    const doc = parseYaml(text) as { db: { user: string; password: string } };
    writeFileSync(
      join(dir, "moved.enc.yaml"),
      text.replace(doc.db.user, "@SWAP@").replace(doc.db.password, doc.db.user).replace("@SWAP@", doc.db.password),
    );
    const r = decrypt("moved.enc.yaml");
    assert.equal(r.status, 4);
    assert.match(r.stderr, /^error\[DECRYPT_FAILED\]: db\.(user|password): /);
  });

  it("says which identities are missing with KEY_NOT_FOUND, listing the file's recipients", () => {
    const r = run(["file", "decrypt", "s.enc.yaml"], { keepStdout: true });
    assert.equal(r.status, 4);
    assert.match(r.stderr, new RegExp(`^error\\[KEY_NOT_FOUND\\]: cannot open the data key: no age identity was given .*${recipient}`));
  });

  it("rotate makes a new data key and re-encrypts every value, and says so", () => {
    const before = readFileSync(join(dir, "s.enc.yaml"), "utf8");
    const r = run(["file", "rotate", "s.enc.yaml"], { env: withKey });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /rotate: s\.enc\.yaml: data key rotated, 7 values re-encrypted\nrotate: recipients unchanged\n/);
    const oldValues = before.match(/ENC\[[^\]]+\]/g) ?? [];
    for (const v of oldValues) assert.ok(!r.stdout.includes(v), "no ciphertext survives a rotation");
    writeFileSync(join(dir, "rotated.enc.yaml"), r.stdout);
    assert.deepEqual(parseYaml(decrypt("rotated.enc.yaml").stdout), parseYaml(PLAIN_YAML));
  });

  it("updatekeys rewraps the same data key for the .sops.yaml recipients, values untouched, and reports the change", async () => {
    const second = await generateX25519Identity();
    const secondRecipient = await identityToRecipient(second);
    writeFileSync(join(dir, ".sops.yaml"), `creation_rules:\n  - path_regex: s\\.enc\\.yaml$\n    age: ${recipient},${secondRecipient}\n`);
    const before = readFileSync(join(dir, "s.enc.yaml"), "utf8");
    const r = run(["file", "updatekeys", "-y", "s.enc.yaml"], { env: withKey });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /same data key rewrapped for 2 recipients; values not re-encrypted/);
    assert.match(r.stderr, new RegExp(`recipient added: ${secondRecipient}`));
    const after = readFileSync(join(dir, "s.enc.yaml"), "utf8");
    const values = (t: string): string[] => t.split("\nsops:")[0]?.match(/ENC\[[^\]]+\]/g) ?? [];
    assert.deepEqual(values(after), values(before));
    const macOf = (t: string): string | undefined => /\n {4}mac: (ENC\[[^\]]+\])/.exec(t)?.[1];
    assert.equal(macOf(after), macOf(before));
    const bySecond = run(["file", "decrypt", "s.enc.yaml"], { env: { SOPS_AGE_KEY: second }, keepStdout: true });
    assert.equal(bySecond.status, 0, bySecond.stderr);
    const again = run(["file", "updatekeys", "s.enc.yaml"], { env: withKey });
    assert.match(again.stderr, /already up to date/);
    rmSync(join(dir, ".sops.yaml"));
  });

  it("edit re-encrypts on save: one value changed, every other ciphertext byte-identical, comments and order kept, temp file gone", () => {
    const editor = join(dir, "editor.mjs");
    writeFileSync(
      editor,
      `#!${process.execPath}\nimport { readFileSync, writeFileSync, statSync } from "node:fs";\nconst f = process.argv[2];\nwriteFileSync(process.env.EDIT_LOG, f + " " + (statSync(f).mode & 0o777).toString(8));\nwriteFileSync(f, readFileSync(f, "utf8").replace("port: 5432", "port: 6543"));\n`,
    );
    chmodSync(editor, 0o755);
    const before = readFileSync(join(dir, "s.enc.yaml"), "utf8");
    const log = join(dir, "edit.log");
    const r = run(["file", "edit", "s.enc.yaml"], { env: { ...withKey, EDITOR: editor, EDIT_LOG: log } });
    assert.equal(r.status, 0, r.stderr);
    const [tempPath, mode] = readFileSync(log, "utf8").split(" ");
    assert.equal(mode, "600");
    assert.throws(() => statSync(tempPath ?? ""), /ENOENT/);
    const after = readFileSync(join(dir, "s.enc.yaml"), "utf8");
    const body = (t: string): string[] => (t.split("\nsops:")[0] ?? "").split("\n");
    const [b, a] = [body(before), body(after)];
    assert.equal(a.length, b.length);
    const changed = a.filter((line, i) => line !== b[i]);
    assert.equal(changed.length, 1);
    assert.match(changed[0] ?? "", /^port: ENC\[[^\]]+type:int\]$/);
    assert.match(decrypt("s.enc.yaml").stdout, /\nport: 6543\n/);
    assert.match(r.stderr, /: saved; 1 values or comments newly encrypted, \d+ kept as they were/);
  });

  it("refuses bad input with the line and rule, writes nothing in place, and prints no stack trace", () => {
    writeFileSync(join(dir, "bad.yaml"), "a: 1\nb: [unclosed\n");
    const r = run(["file", "encrypt", "--age", recipient, "--in-place", "bad.yaml"]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^error\[INVALID_INPUT\]: line \d+: not valid YAML/);
    assert.equal(readFileSync(join(dir, "bad.yaml"), "utf8"), "a: 1\nb: [unclosed\n");
    assert.doesNotMatch(r.stderr, /\n {4}at /);
    const badRecipient = run(["file", "encrypt", "--age", "age1notarecipient", "s.yaml"]);
    assert.equal(badRecipient.status, 2);
    assert.match(badRecipient.stderr, /^error\[INVALID_INPUT\]: age\.0: /);
  });

  it("splits the data key across .sops.yaml key groups (Shamir): one group's identity is not enough, two are", async () => {
    const ids = await Promise.all([generateX25519Identity(), generateX25519Identity()]);
    const recips = await Promise.all(ids.map((i) => identityToRecipient(i)));
    writeFileSync(
      join(dir, ".sops.yaml"),
      `creation_rules:\n  - path_regex: groups\\.enc\\.yaml$\n    shamir_threshold: 2\n    key_groups:\n      - age: [${recips[0] ?? ""}]\n      - age: [${recips[1] ?? ""}]\n`,
    );
    writeFileSync(join(dir, "groups.enc.yaml"), PLAIN_YAML);
    const r = run(["file", "encrypt", "--in-place", "groups.enc.yaml"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(join(dir, "groups.enc.yaml"), "utf8"), /\n {4}key_groups:\n[\s\S]*\n {4}shamir_threshold: 2\n/);
    const one = run(["file", "decrypt", "groups.enc.yaml"], { env: { SOPS_AGE_KEY: ids[0] }, keepStdout: true });
    assert.equal(one.status, 4);
    const both = run(["file", "decrypt", "groups.enc.yaml"], { env: { SOPS_AGE_KEY: ids.join("\n") }, keepStdout: true });
    assert.equal(both.status, 0, both.stderr);
    assert.deepEqual(parseYaml(both.stdout), parseYaml(PLAIN_YAML));
    rmSync(join(dir, ".sops.yaml"));
  });

  it("coffer run --file injects the top-level values like sops exec-env (nested keys skipped, named)", () => {
    const script =
      "process.stdout.write(JSON.stringify({ p: process.env.port, e: process.env.enabled, n: process.env.note_unencrypted, db: process.env.db ?? null }))";
    const r = run(["run", "--file", "s.enc.yaml", "--", process.execPath, "-e", script], { env: withKey, keepStdout: true });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { p: "6543", e: "True", n: "readable", db: null });
    assert.match(r.stderr, /nested keys not injected \(only top-level values are\): db, tokens/);
    const env = run(["run", "--file", "s.enc.env", "--", process.execPath, "-e", "process.stdout.write(process.env.LITERAL)"], {
      env: withKey,
      keepStdout: true,
    });
    assert.equal(env.stdout, `$HOME and \${PATH} stay 'as is' "quoted"`);
    const viaCommander = run(
      [
        "--home",
        join(dir, "home"),
        "run",
        "--file",
        "s.enc.env",
        "--",
        process.execPath,
        "-e",
        "process.stdout.write(process.env.API_TOKEN)",
      ],
      {
        env: withKey,
        keepStdout: true,
      },
    );
    assert.equal(viaCommander.stdout, CANARY_B);
  });

  it("never prints a planted value or a key on stdout or stderr of any command but decrypt's output", () => {
    const all = transcript.join("\n");
    for (const canary of [CANARY_A, CANARY_B, identity, identity.toLowerCase()]) assert.ok(!all.includes(canary), "a planted value leaked");
  });
});
