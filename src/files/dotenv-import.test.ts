import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDotenvEntries } from "./import-source.ts";

const parse = (text: string): Record<string, string> =>
  Object.fromEntries(parseDotenvEntries(new TextEncoder().encode(text)).map((e) => [e.key, new TextDecoder().decode(e.value.reveal())]));

const refusal = (text: string): string => {
  try {
    parseDotenvEntries(new TextEncoder().encode(text));
  } catch (e) {
    return (e as Error).message;
  }
  return "accepted";
};

describe("dotenv import reads files as dotenv, dotenvx and Docker Compose do", () => {
  const cases: [string, string, Record<string, string>][] = [
    ["plain", "A=1\n", { A: "1" }],
    ["export prefix", "export A=1\nexport\tB=2\n", { A: "1", B: "2" }],
    ["a key named export", "export=1\n", { export: "1" }],
    ["spaces around the key and before the value", "  A = x\n", { A: "x" }],
    ["unquoted value trimmed", "A=  a b  \n", { A: "a b" }],
    ["double quotes", 'A="a b"\n', { A: "a b" }],
    ["single quotes", "A='x'\n", { A: "x" }],
    ["backticks", "A=`x 'y' \"z\"`\n", { A: "x 'y' \"z\"" }],
    ["spaces kept inside quotes", 'A="  a  "\n', { A: "  a  " }],
    ["empty values", "A=\nB=\"\"\nC=''\n", { A: "", B: "", C: "" }],
    ["escapes in double quotes", 'A="l1\\nl2\\t\\"q\\" \\\\ \\$x \\w"\n', { A: 'l1\nl2\t"q" \\ \\$x \\w' }],
    ["no escapes in single quotes", "A='l1\\nl2 \\' \n", { A: "l1\\nl2 \\" }],
    ["no $ expansion anywhere", "H=$HOME\nI=\"${HOME}\"\nJ='$HOME'\n", { H: "$HOME", I: "${HOME}", J: "$HOME" }],
    ["comment lines and blank lines", "# c\n\n  # indented\nA=1\n", { A: "1" }],
    ["inline comment after a space", "A=value # note\nB=a\t#note\n", { A: "value", B: "a" }],
    ["# without a space before it is part of the value", "A=pa#ss\nB=#x\n", { A: "pa#ss", B: "#x" }],
    ["empty value then a comment", "A= # nothing\n", { A: "" }],
    ["# inside quotes is part of the value", 'A="a #b" # c\n', { A: "a #b" }],
    ["multi-line double-quoted", 'A="l1\nl2"\nB=2\n', { A: "l1\nl2", B: "2" }],
    ["multi-line single-quoted", "A='-----BEGIN-----\nabc\n-----END-----'\n", { A: "-----BEGIN-----\nabc\n-----END-----" }],
    ["CRLF lines", 'A=1\r\nB="x"\r\n', { A: "1", B: "x" }],
    ["a byte-order mark", "\uFEFFA=1\n", { A: "1" }],
    ["split at the first =", "A=b=c\n", { A: "b=c" }],
    ["sops's \\n escape in an unquoted value", "A=l1\\nl2\n", { A: "l1\nl2" }],
    ["quote in the middle is kept", "A=it's\n", { A: "it's" }],
    ["non-ASCII text", 'A="é ✓ 密"\n', { A: "é ✓ 密" }],
  ];
  for (const [name, text, want] of cases)
    it(name, () => {
      assert.deepEqual(parse(text), want);
    });

  it("refuses an unterminated quote, naming the line where the value starts", () => {
    assert.match(refusal('A=1\nB="open\nC=3\n'), /^line 2: unterminated " quote/);
    assert.match(refusal("A='open\n"), /^line 1: unterminated ' quote/);
  });

  it("refuses text after the closing quote", () => {
    assert.match(refusal('A="x"y\n'), /^line 1: unexpected text after the closing "/);
  });

  it("refuses a line without KEY=", () => {
    assert.match(refusal("A=1\nexport B\n"), /^line 2: expected KEY=VALUE/);
    assert.match(refusal("=x\n"), /^line 1: expected KEY=VALUE/);
  });

  it("numbers lines after a multi-line value correctly", () => {
    const entries = parseDotenvEntries(new TextEncoder().encode('A="1\n2\n3"\nB=x\n'));
    assert.deepEqual(
      entries.map((e) => e.where),
      ["line 1", "line 4"],
    );
  });
});
