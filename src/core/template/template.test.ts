import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { parse as parseDotenv } from "dotenv";
import fc from "fast-check";
import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";
import { parseTemplate, templateReferences } from "./template-parse.ts";
import { templateFormatFromName, type TemplateFormat } from "./template-escape.ts";
import { renderTemplate } from "./template-render.ts";

/** Renders `template` with every reference resolving to `value` (or to nothing when null). */
function render(template: string, format: TemplateFormat, value: string | Uint8Array | null): string {
  const bytes = value === null ? null : typeof value === "string" ? Buffer.from(value, "utf8") : value;
  return Buffer.from(
    renderTemplate(parseTemplate(template), format, (ref) => ({
      owner: ref.owner ?? "project/acme",
      value: bytes === null ? null : Uint8Array.from(bytes),
    })),
  ).toString("utf8");
}

/** The passwords the issue names, and a few more that break naive quoting. */
const HOSTILE = [
  'p"w',
  "back\\slash\\",
  "it's",
  "$HOME ${PATH} `id` $(id)",
  "line one\nline two\n",
  "crlf\r\nend",
  "tab\there",
  "grüße 🔑 日本語",
  "\"\\'$\n\u00e9",
  "\ufeffbom first",
  "ends with newline\n",
  "  padded  ",
  "# not a comment",
  "key = value\n[section]",
  "\u2028\u2029\u0085",
  "\u001b[2J\u0007",
  '}}{{ secret "x" }}',
  "",
];

describe("templates: parsing", () => {
  it("reads owner, key, version, default and filters, with positions", () => {
    const t = parseTemplate('a = {{ secret "project/acme" "K" version=3 | base64 | json }}\nb = {{secret "L" default="x\\ny"}}');
    const refs = templateReferences(t);
    assert.deepEqual(
      refs.map((r) => [r.owner, r.key, r.version, r.fallback, r.filters, r.line, r.column]),
      [
        ["project/acme", "K", 3, null, ["base64", "json"], 1, 5],
        [null, "L", null, "x\ny", [], 2, 5],
      ],
    );
  });

  it("keeps text byte for byte and writes {{ for {{{{", () => {
    assert.equal(render("x {{{{ y }} z\n", "text", null), "x {{ y }} z\n");
  });

  it("refuses anything that is not a secret reference, naming line and column", () => {
    for (const [bad, rule] of [
      ['{{ env "HOME" }}', /template:1:1: a reference must start with secret/],
      ["x\n  {{ secret }}", /template:2:3: secret takes a key name/],
      ['{{ secret "a" "b" "c" }}', /secret takes a key name/],
      ['{{ secret "K" | exec }}', /unknown filter exec/],
      ['{{ secret "K" version=0 }}', /version: must be a whole number from 1/],
      ['{{ secret "K" default=3 }}', /default: must be a "quoted" string/],
      ['{{ secret "K" foo="x" }}', /unknown argument foo/],
      ['{{ secret "K"', /is not closed/],
      ['{{ secret "K }}', /string is not closed/],
      ['{{ secret "K\\x" }}', /unknown escape/],
      ['{{ secret "K".constructor }}', /unexpected character/],
      ['{{ secret "K" }} {{ secret "K" | json | base64 }}', null],
    ] as const) {
      if (rule === null) assert.throws(() => render(bad, "toml", "v"), /the escape filter must be last/);
      else
        assert.throws(
          () => parseTemplate(bad),
          (e: Error) => rule.test(e.message) && (e as { code?: string }).code === "INVALID_INPUT",
        );
    }
  });

  it("takes the format from the template's name", () => {
    for (const [name, f] of [
      ["backup.toml.tmpl", "toml"],
      ["/etc/app/config.json.tpl", "json"],
      ["values.yml.tmpl", "yaml"],
      [".env.tmpl", "dotenv"],
      ["prod.env", "dotenv"],
      ["start.sh.tmpl", "shell"],
      ["notes.tmpl", null],
      ["archive.tar.tmpl", null],
    ] as const)
      assert.equal(templateFormatFromName(name), f, name);
  });
});

describe("templates: escaping so that the format's own parser yields the exact value", () => {
  it("TOML (smol-toml)", () => {
    for (const v of HOSTILE) assert.equal(parseToml(render('password = {{ secret "P" }}\n', "toml", v)).password, v, JSON.stringify(v));
  });

  it("JSON", () => {
    for (const v of HOSTILE)
      assert.equal((JSON.parse(render('{"password": {{ secret "P" }}}', "json", v)) as { password: string }).password, v);
  });

  it("YAML (the yaml package, as 1.2 and 1.1)", () => {
    for (const v of HOSTILE) {
      const text = render('password: {{ secret "P" }}\nother: x\n', "yaml", v);
      for (const version of ["1.2", "1.1"] as const)
        assert.deepEqual(parseYaml(text, { version }), { password: v, other: "x" }, `${JSON.stringify(v)} as YAML ${version}`);
    }
  });

  it("dotenv (single-quoted values, read by the dotenv package)", () => {
    for (const v of HOSTILE.filter((x) => !x.includes("'") && !x.includes("\r") && x.trim() !== "" && !x.startsWith("\ufeff")))
      assert.equal(parseDotenv(render('PASSWORD={{ secret "P" }}\nOTHER=x\n', "dotenv", v)).PASSWORD, v, JSON.stringify(v));
  });

  it("shell (a real /bin/sh sources the file and prints the variable)", () => {
    for (const v of HOSTILE) {
      const script = render('PASSWORD={{ secret "P" }}\nprintf %s "$PASSWORD"\n', "shell", v);
      assert.equal(execFileSync("/bin/sh", ["-c", script], { encoding: "utf8" }), v, JSON.stringify(v));
    }
  });

  it("round-trips any text through TOML, JSON and YAML (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 40 }), (v) => {
        assert.equal(parseToml(render('k = {{ secret "P" }}', "toml", v)).k, v);
        assert.equal((JSON.parse(render('{"k":{{ secret "P" }}}', "json", v)) as { k: string }).k, v);
        assert.equal((parseYaml(render('k: {{ secret "P" }}', "yaml", v)) as { k: string }).k, v);
      }),
      { numRuns: 300 },
    );
  });

  it("applies encoding filters, then the format's escape; | raw writes the bytes as they are", () => {
    const bin = Uint8Array.from([0, 255, 10, 34]);
    assert.equal(render('k = {{ secret "P" | base64 }}', "toml", bin), `k = "${Buffer.from(bin).toString("base64")}"`);
    assert.equal(render('k = {{ secret "P" | hex }}', "toml", bin), 'k = "00ff0a22"');
    assert.equal(render('{{ secret "P" | raw }}', "toml", 'a"b'), 'a"b');
    assert.equal(render('k: {{ secret "P" | json }}', "yaml", "a\nb"), 'k: "a\\nb"');
    assert.equal(render('{{ secret "P" | trim }}', "text", "  x \n"), "x");
  });

  it("refuses bytes a format cannot hold, naming the reference and not the value", () => {
    const canary = Uint8Array.from([0x63, 0x61, 0xff, 0xfe]);
    assert.throws(
      () => render('k = {{ secret "project/acme" "P" }}', "toml", canary),
      (e: Error) => /project\/acme P \(line 1\): the value is not UTF-8 text.*\| base64/.test(e.message),
    );
    assert.throws(() => render('K={{ secret "P" }}', "shell", "a\0b"), /NUL byte/);
  });

  it("uses a default for a missing secret, and otherwise fails naming the reference", () => {
    assert.equal(render('r = {{ secret "R" default="eu-west-1" }}', "toml", null), 'r = "eu-west-1"');
    assert.throws(
      () => render('x\nr = {{ secret "project/acme" "R" version=2 }}', "toml", null),
      (e: Error) => (e as { code?: string }).code === "NOT_FOUND" && /project\/acme R v2 \(line 2\) does not exist/.test(e.message),
    );
  });
});
