import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson } from "../output.ts";
import { flag, globalOptions, required, str } from "./args.ts";

const split = (text: string): string[] =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

/** `coffer token create`: locally (the operator holds the master key) or on the server (an admin token); prints the token once. */
export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const created = await withBackend(io, globalOptions(args), (b) =>
    b.tokens.create({
      name: required(str(args, "name"), "--name"),
      scopes: split(required(str(args, "scopes"), "--scopes")),
      owners: split(required(str(args, "owners"), "--owners")),
      ttl: str(args, "ttl") ?? null,
      interactive: flag(args, "interactive"),
    }),
  );
  const token = new TextDecoder().decode(created.token.reveal());
  created.token.wipe();
  if (flag(args, "json")) printJson(io, { ...created.view, token });
  else {
    io.stdout.write(`${token}\n`);
    io.stderr.write(
      `created token ${created.view.id} (${created.view.name}): scopes ${created.view.scopes.join(",")}, owners ${created.view.owners.join(",")}, ${created.view.expiresAt === null ? "no expiry" : `expires ${created.view.expiresAt}`}; it is shown once\n`,
    );
  }
  return 0;
}
