import { CofferError } from "../errors/index.ts";

/**
 * Coffer's template language: text with references to secrets, and nothing else.
 *
 * ```
 * password = {{ secret "project/acme" "RUSTIC_PASSWORD" }}
 * token    = {{ secret "API_TOKEN" }}                      # the default owner (--owner)
 * old      = {{ secret "project/acme" "DB_PASSWORD" version=3 }}
 * region   = {{ secret "REGION" default="eu-west-1" }}
 * cert     = {{ secret "TLS_CERT" | base64 }}
 * ```
 *
 * The grammar is deliberately tiny: one function (`secret`), string literals, two named
 * arguments and a fixed set of filters. There are no expressions, variables, loops, includes
 * or property lookups, so a template cannot run code or read anything but the secrets it names
 * (general engines such as Handlebars or Nunjucks expose helpers and object properties, and
 * have had prototype-pollution and sandbox-escape advisories; this needs none of that).
 * `{{{{` writes a literal `{{`.
 */
export const TEMPLATE_FILTERS = ["raw", "base64", "base64url", "hex", "json", "toml", "yaml", "dotenv", "shell", "trim"] as const;
export type TemplateFilter = (typeof TEMPLATE_FILTERS)[number];

export type SecretReference = {
  /** `owner` as written (`project/acme`), or null for the template's default owner. */
  readonly owner: string | null;
  readonly key: string;
  readonly version: number | null;
  /** Used when the secret does not exist; null: a missing secret fails the render. */
  readonly fallback: string | null;
  readonly filters: readonly TemplateFilter[];
  /** 1-based position of the `{{`, for messages. */
  readonly line: number;
  readonly column: number;
};

export type TemplatePart = { readonly kind: "text"; readonly text: string } | ({ readonly kind: "secret" } & SecretReference);
export type ParsedTemplate = { readonly parts: readonly TemplatePart[] };

const MAX_TEMPLATE_BYTES = 1024 * 1024;
const MAX_REFERENCES = 1000;

type Token = { readonly kind: "word" | "string" | "pipe" | "equals"; readonly text: string };

function fail(where: { line: number; column: number }, rule: string): never {
  throw new CofferError("INVALID_INPUT", `template:${String(where.line)}:${String(where.column)}: ${rule}`, {
    field: "template",
    line: where.line,
    column: where.column,
  });
}

function position(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

const STRING_ESCAPES: Readonly<Record<string, string>> = { '"': '"', "\\": "\\", n: "\n", t: "\t", r: "\r" };

function tokenize(body: string, at: { line: number; column: number }): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < body.length) {
    const c = body.charAt(i);
    if (c === " " || c === "\t") i++;
    else if (c === "|" || c === "=") {
      tokens.push({ kind: c === "|" ? "pipe" : "equals", text: c });
      i++;
    } else if (c === '"') {
      let out = "";
      i++;
      for (;;) {
        if (i >= body.length) fail(at, 'a string is not closed with "');
        const d = body.charAt(i);
        if (d === '"') break;
        if (d === "\\") {
          const e = STRING_ESCAPES[body.charAt(i + 1)];
          if (e === undefined) fail(at, 'unknown escape in a string (use \\" \\\\ \\n \\t \\r)');
          out += e;
          i += 2;
        } else {
          out += d;
          i++;
        }
      }
      i++;
      tokens.push({ kind: "string", text: out });
    } else {
      const m = /^[A-Za-z0-9_]+/.exec(body.slice(i));
      if (m === null) fail(at, `unexpected character ${JSON.stringify(c)} (expected secret "owner" "KEY", version=, default=, | filter)`);
      tokens.push({ kind: "word", text: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

function parseReference(body: string, at: { line: number; column: number }): SecretReference {
  const tokens = tokenize(body, at);
  if (tokens[0]?.kind !== "word" || tokens[0].text !== "secret")
    fail(at, 'a reference must start with secret, e.g. {{ secret "project/acme" "KEY" }}');
  let i = 1;
  const names: string[] = [];
  while (tokens[i]?.kind === "string") names.push(tokens[i++]?.text ?? "");
  if (names.length < 1 || names.length > 2) fail(at, 'secret takes a key name, or an owner and a key name, as "quoted" strings');
  let version: number | null = null;
  let fallback: string | null = null;
  while (tokens[i]?.kind === "word") {
    const name = tokens[i]?.text;
    const value = tokens[i + 2];
    if (tokens[i + 1]?.kind !== "equals" || value === undefined) fail(at, `${String(name)}: expected ${String(name)}=<value>`);
    if (name === "version") {
      if (value.kind !== "word" || !/^[1-9]\d{0,8}$/.test(value.text)) fail(at, "version: must be a whole number from 1");
      if (version !== null) fail(at, "version: given twice");
      version = Number(value.text);
    } else if (name === "default") {
      if (value.kind !== "string") fail(at, 'default: must be a "quoted" string');
      if (fallback !== null) fail(at, "default: given twice");
      fallback = value.text;
    } else fail(at, `unknown argument ${String(name)} (expected version= or default=)`);
    i += 3;
  }
  const filters: TemplateFilter[] = [];
  while (tokens[i]?.kind === "pipe") {
    const f = tokens[i + 1];
    if (f?.kind !== "word" || !(TEMPLATE_FILTERS as readonly string[]).includes(f.text))
      fail(at, `unknown filter${f === undefined ? "" : ` ${f.text}`} (one of ${TEMPLATE_FILTERS.join(", ")})`);
    filters.push(f.text as TemplateFilter);
    i += 2;
  }
  if (i !== tokens.length) fail(at, "unexpected text after the reference");
  const [first = "", second] = names;
  return { owner: second === undefined ? null : first, key: second ?? first, version, fallback, filters, ...at };
}

/**
 * Parses a template.
 * @throws CofferError INVALID_INPUT naming the line and column of the first mistake.
 */
export function parseTemplate(text: string): ParsedTemplate {
  if (Buffer.byteLength(text, "utf8") > MAX_TEMPLATE_BYTES) fail({ line: 1, column: 1 }, "is larger than 1 MiB");
  const parts: TemplatePart[] = [];
  let literal = "";
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf("{{", i);
    if (open === -1) break;
    if (text.startsWith("{{{{", open)) {
      literal += text.slice(i, open) + "{{";
      i = open + 4;
      continue;
    }
    literal += text.slice(i, open);
    const at = position(text, open);
    const close = text.indexOf("}}", open + 2);
    if (close === -1) fail(at, "{{ is not closed with }}");
    const body = text.slice(open + 2, close);
    if (body.includes("\n")) fail(at, "a reference must be on one line");
    if (literal !== "") parts.push({ kind: "text", text: literal });
    literal = "";
    parts.push({ kind: "secret", ...parseReference(body.trim(), at) });
    if (parts.length > MAX_REFERENCES * 2) fail(at, `more than ${String(MAX_REFERENCES)} references`);
    i = close + 2;
  }
  literal += text.slice(i);
  if (literal !== "") parts.push({ kind: "text", text: literal });
  return { parts };
}

/** The references of a template, in order of appearance. */
export function templateReferences(t: ParsedTemplate): SecretReference[] {
  return t.parts.flatMap((p) => (p.kind === "secret" ? [p] : []));
}
