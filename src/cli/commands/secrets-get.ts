import { encodeValue } from "../../contract/index.ts";
import { CofferError } from "../../core/errors/index.ts";
import { isInteractive, type Io } from "../io.ts";
import type { Backend, Ref } from "../backend.ts";
import { withBackend } from "../choose-backend.ts";
import { printJson, printSecret } from "../output.ts";
import { confirm, promptLine } from "../prompt.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, arg, flag, int, json, text, type Options } from "../command.ts";

export const command = defineCommand({
  args: [arg("owner"), arg("key")],
  options: [
    flag("reveal", "--reveal", "print the plaintext (audited)"),
    text("reason", "--reason <text>", "why the plaintext is needed (recorded in the audit log)"),
    flag("yes", "--yes", "do not ask for confirmation (required when not interactive)"),
    int("version", "--version <n>", "a specific version"),
    json,
  ],
  example: ["coffer secrets get project/acme DB_PASSWORD", 'coffer secrets get project/acme DB_PASSWORD --reveal --reason "debug login"'],
});

async function reasonFor(args: { readonly reason: string | undefined }, io: Io): Promise<string> {
  const given = args.reason;
  if (given !== undefined) return given;
  if (isInteractive(io)) return promptLine(io, "Reason for revealing (recorded in the audit log): ", false);
  throw new CofferError("INVALID_INPUT", "reason: is required to reveal; pass --reason <text>", { field: "reason" });
}

export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const owner = args.owner;
  const key = args.key;
  const version = args.version;
  const ref = { owner, key, ...(version === undefined ? {} : { version }) };
  return withBackend(io, globalOptions(args), async (b) => {
    if (!args.reveal) {
      const view = await b.get(ref);
      if (args.json) printJson(io, view);
      else printSecret(io, view);
      return 0;
    }
    return revealTo(io, b, args, ref);
  });
}

/** Asks for confirmation and a reason, reveals (audited) and prints the plaintext. */
export async function revealTo(
  io: Io,
  b: Backend,
  args: { readonly yes: boolean; readonly reason: string | undefined; readonly json: boolean },
  ref: Ref & { readonly version?: number },
): Promise<number> {
  const view = await b.get(ref);
  if (!args.yes) {
    if (!isInteractive(io))
      throw new CofferError("CONFIRMATION_REQUIRED", "revealing needs confirmation: run on a terminal, or pass --yes");
    if (!(await confirm(io, `Reveal ${view.owner} ${view.key} v${String(view.version)} in plaintext?`))) {
      throw new CofferError("CONFIRMATION_REQUIRED", "not revealed: confirmation declined");
    }
  }
  const reason = await reasonFor(args, io);
  const { view: revealed, value } = await b.reveal({ ...ref, reason });
  try {
    if (args.json) {
      const bytes = value.reveal();
      printJson(io, { ...revealed, ...encodeValue(bytes) });
      bytes.fill(0);
    } else {
      io.stdout.write(value.reveal());
      if (io.stdout.isTTY === true) io.stdout.write("\n");
    }
  } finally {
    value.wipe();
  }
  return 0;
}
