import { CofferError } from "../core/errors/index.ts";
import type { Io } from "./io.ts";

/**
 * One option of a command: its commander flags and help, and how its raw value becomes the
 * typed field `name` of the command's options object (parsed once, before `run`).
 */
export type OptionSpec<N extends string = string, V = unknown> = {
  readonly name: N;
  readonly flags: string;
  readonly description: string;
  readonly defaultValue?: string | number | readonly string[];
  readonly choices?: readonly string[];
  readonly required?: boolean;
  /** Turns one given text into the stored value (`prev`: the value so far, for repeatable options). */
  readonly argParser?: (text: string, prev: unknown) => unknown;
  readonly value: (raw: unknown) => V;
};

/** A positional argument: `<name>`, `[name]` or `<name...>`. */
export type ArgSpec<N extends string = string, V = unknown> = {
  readonly name: N;
  readonly usage: string;
  readonly description?: string;
  readonly value: (raw: unknown) => V;
};

export type CommandSpec = {
  readonly args?: readonly ArgSpec[];
  readonly options: readonly OptionSpec[];
  /** Shown at the end of `--help`: one or more runnable command lines. */
  readonly example: string | readonly string[];
};

/** The options every command gets from before it (and `--remote` on it). */
export type GlobalOptions = {
  readonly home: string | undefined;
  readonly db: string | undefined;
  readonly remote: string | undefined;
};

type Fields<T extends readonly { readonly name: string; readonly value: (raw: unknown) => unknown }[]> = {
  readonly [E in T[number] as E["name"]]: ReturnType<E["value"]>;
};

/** The typed options object a command's `run` receives. */
export type Options<S extends CommandSpec> = Fields<S["options"]> &
  (S["args"] extends readonly ArgSpec[] ? Fields<S["args"]> : unknown) &
  GlobalOptions;

export type CommandModule<S extends CommandSpec = CommandSpec> = {
  readonly command: S;
  readonly run: (o: Options<S>, io: Io) => Promise<number>;
};

const needsValue = (flags: string) => (raw: unknown) => {
  if (raw === undefined || typeof raw === "string") return raw;
  throw new CofferError("USAGE", `${flags.split(" ")[0] ?? flags} needs a value`);
};

/** `--name <value>`: a string, or undefined when not given. */
export function text<N extends string>(name: N, flags: string, description: string): OptionSpec<N, string | undefined> {
  return { name, flags, description, value: needsValue(flags) };
}

/** `--name <value>` with a default: always a string. */
export function textOr<N extends string>(name: N, flags: string, description: string, defaultValue: string): OptionSpec<N, string> {
  return { name, flags, description, defaultValue, value: (raw) => (typeof raw === "string" ? raw : defaultValue) };
}

/** A required `--name <value>` (commander refuses the command without it). */
export function requiredText<N extends string>(name: N, flags: string, description: string): OptionSpec<N, string> {
  return { name, flags, description, required: true, value: (raw) => String(needsValue(flags)(raw)) };
}

/** `--name <value>` from a fixed list (commander refuses others). */
export function choice<N extends string, C extends string>(
  name: N,
  flags: string,
  description: string,
  choices: readonly C[],
): OptionSpec<N, C | undefined> {
  return { name, flags, description, choices, value: (raw) => needsValue(flags)(raw) as C | undefined };
}

/** `--name`: true when given. */
export function flag<N extends string>(name: N, flags: string, description: string): OptionSpec<N, boolean> {
  return { name, flags, description, value: (raw) => raw === true };
}

/** `--no-name`: true unless given. */
export function negatable<N extends string>(name: N, flags: string, description: string): OptionSpec<N, boolean> {
  return { name, flags, description, value: (raw) => raw !== false };
}

/** `--name <v>`, repeatable: every value given, in order. */
export function repeated<N extends string>(name: N, flags: string, description: string): OptionSpec<N, readonly string[]> {
  return {
    name,
    flags,
    description,
    defaultValue: [],
    argParser: (v, prev) => [...(Array.isArray(prev) ? (prev as string[]) : []), v],
    value: (raw) => (Array.isArray(raw) ? raw.map(String) : []),
  };
}

/** A whole number, failing as INVALID_INPUT naming the option. */
export function wholeNumber(field: string): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v)) throw new CofferError("INVALID_INPUT", `${field}: must be a whole number`, { field });
    return Number(v);
  };
}

const fieldOf = (flags: string): string => (/--([a-z0-9-]+)/.exec(flags)?.[1] ?? flags).replace(/^no-/, "");

/** `--name <n>`: a whole number, or undefined when not given. */
export function int<N extends string>(name: N, flags: string, description: string): OptionSpec<N, number | undefined> {
  const parse = wholeNumber(fieldOf(flags));
  return { name, flags, description, argParser: (v) => parse(v), value: (raw) => (typeof raw === "number" ? raw : undefined) };
}

/** `--name <n>` with a default: always a number. */
export function intOr<N extends string>(name: N, flags: string, description: string, defaultValue: number): OptionSpec<N, number> {
  const parse = wholeNumber(fieldOf(flags));
  return {
    name,
    flags,
    description,
    defaultValue,
    argParser: (v) => parse(v),
    value: (raw) => (typeof raw === "number" ? raw : defaultValue),
  };
}

/** A required `--name <n>`. */
export function requiredInt<N extends string>(name: N, flags: string, description: string): OptionSpec<N, number> {
  const parse = wholeNumber(fieldOf(flags));
  return { name, flags, description, required: true, argParser: (v) => parse(v), value: (raw) => Number(raw) };
}

/** `--json`: machine-readable output (the SDK's shapes). */
export const json = flag("json", "--json", "machine-readable output");

/** A required positional argument. */
export function arg<N extends string>(name: N, description?: string): ArgSpec<N, string> {
  return { name, usage: `<${name}>`, ...(description === undefined ? {} : { description }), value: (raw) => String(raw) };
}

/** An optional positional argument. */
export function optionalArg<N extends string>(name: N, description?: string): ArgSpec<N, string | undefined> {
  return {
    name,
    usage: `[${name}]`,
    ...(description === undefined ? {} : { description }),
    value: (raw) => (typeof raw === "string" ? raw : undefined),
  };
}

/** The rest of the arguments (at least one). */
export function restArgs<N extends string>(name: N, description?: string): ArgSpec<N, readonly string[]> {
  return {
    name,
    usage: `<${name}...>`,
    ...(description === undefined ? {} : { description }),
    value: (raw) => (Array.isArray(raw) ? raw.map(String) : []),
  };
}

/** Keeps the literal types of a spec (its option names) for {@link Options}. */
export function defineCommand<const S extends CommandSpec>(spec: S): S {
  return spec;
}

/** Parses commander's raw values into the command's typed options object, once. */
export function parseOptions<S extends CommandSpec>(
  spec: S,
  raw: { readonly opts: Readonly<Record<string, unknown>>; readonly args: readonly unknown[] },
  globals: GlobalOptions,
): Options<S> {
  const out: Record<string, unknown> = { ...globals };
  for (const o of spec.options) out[o.name] = o.value(raw.opts[o.name]);
  (spec.args ?? []).forEach((a, i) => (out[a.name] = a.value(raw.args[i])));
  return out as Options<S>;
}
