import { Command, CommanderError, Option } from "commander";
import { parseOptions, type CommandModule, type CommandSpec, type GlobalOptions } from "./command.ts";
import type { Io } from "./io.ts";
import { COMMANDS, GROUPS, type Entry } from "./program.ts";

const REMOTE_HELP = "work against a Coffer server (default: $COFFER_ADDR; the token from $COFFER_TOKEN)";
const GLOBAL_WITH_VALUE = ["--home", "--db", "--remote"];

/** The registry entry argv names (`secrets set …`, `help secrets set`), or null (help, a group, a typo). */
export function entryOf(argv: readonly string[]): Entry | null {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 3; i++) {
    const a = argv[i] ?? "";
    if (GLOBAL_WITH_VALUE.includes(a)) i++;
    else if (a.startsWith("-")) {
      if (words.length > 0) break;
    } else words.push(a);
  }
  if (words[0] === "help") words.shift();
  return COMMANDS.find((e) => e.path === words.slice(0, 2).join(" ")) ?? COMMANDS.find((e) => e.path === words[0]) ?? null;
}

/** Every command module, for help listings and completion scripts. */
export async function loadAll(): Promise<readonly { readonly entry: Entry; readonly module: CommandModule }[]> {
  return Promise.all(COMMANDS.map(async (entry) => ({ entry, module: await entry.load() })));
}

/** Adds a module's arguments, options and example to its commander command. */
export function define(c: Command, entry: Entry, spec: CommandSpec): Command {
  for (const a of spec.args ?? []) c.argument(a.usage, a.description);
  for (const o of spec.options) {
    const opt = new Option(o.flags, o.description);
    if (o.argParser !== undefined) opt.argParser(o.argParser);
    if (o.defaultValue !== undefined) opt.default(o.defaultValue);
    if (o.choices !== undefined) opt.choices(o.choices);
    if (o.required === true) opt.makeOptionMandatory();
    if (opt.attributeName() !== o.name)
      throw new Error(`${entry.path}: option ${o.flags} is parsed as ${opt.attributeName()}, not ${o.name}`);
    c.addOption(opt);
  }
  if (entry.remote !== false) c.option("--remote <url>", REMOTE_HELP);
  const examples = typeof spec.example === "string" ? [spec.example] : spec.example;
  c.addHelpText("after", `\nExample${examples.length > 1 ? "s" : ""}:\n${examples.map((e) => `  ${e}\n`).join("")}`);
  return c;
}

/**
 * The commander tree: every group and command with its one-line help; the command argv names
 * gets its options and action (all of them do when argv names none: help and mistakes).
 */
export async function buildProgram(argv: readonly string[], io: Io, status: { code: number }): Promise<Command> {
  const program = new Command("coffer")
    .description("Coffer: an envelope-encrypted secret store")
    .version("0.1.0")
    .enablePositionalOptions()
    .option("--home <dir>", "data directory, given before the command (default: $COFFER_HOME or ~/.local/share/coffer)")
    .option(
      "--db <url>",
      "database: postgres://… or sqlite:<path> (default: $COFFER_DB_URL, $DATABASE_URL, or SQLite in the data directory)",
    )
    .option("--remote <url>", REMOTE_HELP)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: () => undefined });
  const wanted = entryOf(argv);
  const modules = new Map<Entry, CommandModule>(
    wanted !== null ? [[wanted, await wanted.load()]] : (await loadAll()).map((m) => [m.entry, m.module]),
  );
  const groups = new Map<string, Command>();
  for (const entry of COMMANDS) {
    const [first = "", leaf] = entry.path.split(" ");
    let parent = program;
    if (leaf !== undefined) {
      parent = groups.get(first) ?? program.command(first).description(GROUPS[first] ?? "");
      groups.set(first, parent);
    }
    const c = parent.command(leaf ?? first).description(entry.summary);
    const mod = modules.get(entry);
    if (mod === undefined) continue;
    define(c, entry, mod.command).action(async (...a: unknown[]) => {
      const self = a.at(-1) as Command;
      const opts = self.opts();
      const top = program.opts<{ home?: string; db?: string; remote?: string }>();
      const globals: GlobalOptions = {
        home: top.home,
        db: top.db,
        remote: typeof opts["remote"] === "string" ? opts["remote"] : top.remote,
      };
      status.code = await mod.run(parseOptions(mod.command, { opts, args: self.processedArgs }, globals), io);
    });
  }
  return program;
}

/** Help and version: commander's way of saying it is done. */
export function isCommanderExit(e: unknown): boolean {
  return e instanceof CommanderError && ["commander.helpDisplayed", "commander.version", "commander.help"].includes(e.code);
}

/** A commander usage error's message, or null for anything else. */
export function usageMessage(e: unknown): string | null {
  return e instanceof CommanderError ? e.message.replace(/^error: /, "") : null;
}
