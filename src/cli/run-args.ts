import { CofferError } from "../core/errors/index.ts";
import type { Options } from "./command.ts";
import type { command } from "./commands/run.ts";

// Through getBuiltinModule, not `import … from "node:util"`: the ES module form builds every
// export of node:util (its diff and colour helpers open stderr), several ms of `coffer run`.
const { parseArgs } = process.getBuiltinModule("node:util");

/**
 * `coffer run` is on the start-up path of the user's program, so it skips commander (about
 * 8 ms to load) and parses its few options with `node:util`'s parseArgs. The options and
 * their meaning are the same as the spec in commands/run.ts, which still serves
 * `coffer run --help`; test/e2e/run.test.ts runs both paths.
 * Returns `null` when the arguments ask for help (commander then answers).
 */
export function parseRunArgs(argv: readonly string[]): Options<typeof command> | null {
  if (argv.includes("--help") || argv.includes("-h")) {
    const dashdash = argv.indexOf("--");
    const helpAt = Math.max(argv.indexOf("--help"), argv.indexOf("-h"));
    if (dashdash === -1 || helpAt < dashdash) return null;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        owner: { type: "string" },
        prefix: { type: "string" },
        remote: { type: "string" },
        "no-override": { type: "boolean" },
        file: { type: "string" },
        identity: { type: "string", multiple: true },
        "allow-env": { type: "string", multiple: true },
        "keep-env": { type: "string", multiple: true },
        strict: { type: "boolean" },
        "allow-empty": { type: "boolean" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new CofferError("USAGE", (e as Error).message.split("\n")[0] ?? "bad arguments");
  }
  const { owner, prefix, file, identity, remote } = parsed.values;
  if (owner === undefined && file === undefined)
    throw new CofferError("USAGE", "required option '--owner <owner>' (or --file <path>) not specified");
  if (parsed.positionals.length === 0) throw new CofferError("USAGE", "missing required argument 'command'");
  return {
    home: undefined,
    db: undefined,
    remote,
    owner,
    prefix,
    file,
    identity: identity ?? [],
    override: parsed.values["no-override"] !== true,
    allowEnv: parsed.values["allow-env"] ?? [],
    keepEnv: parsed.values["keep-env"] ?? [],
    strict: parsed.values.strict === true,
    allowEmpty: parsed.values["allow-empty"] === true,
    command: parsed.positionals,
  };
}
