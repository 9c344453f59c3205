import type { CommandSpec } from "../command.ts";
import { arg, defineCommand, type Options } from "../command.ts";
import type { Io } from "../io.ts";
import { CofferError } from "../../core/errors/index.ts";

export const command = defineCommand({
  args: [arg("shell", "bash, zsh or fish")],
  options: [],
  example: [
    "source <(coffer completion bash)          # bash, this shell; or put it in ~/.bashrc",
    "coffer completion zsh > ~/.zfunc/_coffer   # zsh, with ~/.zfunc on $fpath",
    "coffer completion fish > ~/.config/fish/completions/coffer.fish",
  ],
});

const SHELLS = ["bash", "zsh", "fish"] as const;
const GLOBAL_FLAGS = ["--home", "--db", "--remote", "--help", "--version"];

/** A command of the registry as completion sees it: its words and its flags. */
type Completable = { readonly path: string; readonly summary: string; readonly flags: readonly string[] };

function flagsOf(spec: CommandSpec, remote: boolean): string[] {
  const out = spec.options.flatMap((o) => o.flags.split(/[ ,]+/).filter((f) => f.startsWith("-")));
  return [...out, ...(remote ? ["--remote"] : []), "--help"];
}

function bash(commands: readonly Completable[], groups: Readonly<Record<string, string>>): string {
  const words = (ws: readonly string[]): string => ws.join(" ");
  const top = [...new Set(commands.map((c) => c.path.split(" ")[0] ?? ""))];
  const cases: string[] = [`    "") words="${words([...top, ...GLOBAL_FLAGS])}" ;;`];
  for (const c of commands) cases.push(`    "${c.path}" | "${c.path} "*) words="${words(c.flags)}" ;;`);
  for (const g of Object.keys(groups)) {
    const subs = commands.filter((c) => c.path.startsWith(`${g} `)).map((c) => c.path.slice(g.length + 1));
    cases.push(`    "${g}") words="${words([...subs, "--help"])}" ;;`);
  }
  return `# coffer completion for bash (generated from the command registry: coffer completion bash)
_coffer() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" words="" w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      --home | --db | --remote) ((i++)) ;;
      -*) ;;
      *) path="\${path:+$path }$w" ;;
    esac
  done
  case "$path" in
${cases.join("\n")}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _coffer coffer
`;
}

function zsh(commands: readonly Completable[], groups: Readonly<Record<string, string>>): string {
  // zsh runs the bash function through its own bashcompinit layer.
  return `#compdef coffer
# coffer completion for zsh (generated from the command registry: coffer completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash(commands, groups).split("\n").slice(1).join("\n")}`;
}

function fish(commands: readonly Completable[], groups: Readonly<Record<string, string>>): string {
  const q = (s: string): string => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  const lines = ["# coffer completion for fish (generated from the command registry: coffer completion fish)", "complete -c coffer -f"];
  const tops = new Map<string, string>();
  for (const c of commands) {
    const first = c.path.split(" ")[0] ?? "";
    if (!tops.has(first)) tops.set(first, groups[first] ?? c.summary);
  }
  for (const [word, summary] of tops) lines.push(`complete -c coffer -n __fish_use_subcommand -a ${q(word)} -d ${q(summary)}`);
  for (const g of Object.keys(groups)) {
    const subs = commands.filter((c) => c.path.startsWith(`${g} `));
    const names = subs.map((c) => c.path.slice(g.length + 1)).join(" ");
    for (const c of subs)
      lines.push(
        `complete -c coffer -n ${q(`__fish_seen_subcommand_from ${g}; and not __fish_seen_subcommand_from ${names}`)} -a ${q(c.path.slice(g.length + 1))} -d ${q(c.summary)}`,
      );
  }
  for (const c of commands) {
    const cond = c.path
      .split(" ")
      .map((w) => `__fish_seen_subcommand_from ${w}`)
      .join("; and ");
    for (const f of c.flags) {
      const flag = f.startsWith("--") ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`;
      lines.push(`complete -c coffer -n ${q(cond)} ${flag}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** `coffer completion bash|zsh|fish`: a completion script made from the registry, on stdout. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const shell = SHELLS.find((s) => s === args.shell);
  if (shell === undefined) throw new CofferError("USAGE", `shell: must be one of ${SHELLS.join(", ")}`);
  const { loadAll } = await import("../command-tree.ts");
  const { GROUPS } = await import("../program.ts");
  const commands = (await loadAll()).map(({ entry, module }) => ({
    path: entry.path,
    summary: entry.summary,
    flags: flagsOf(module.command, entry.remote !== false),
  }));
  io.stdout.write({ bash, zsh, fish }[shell](commands, GROUPS));
  return 0;
}
