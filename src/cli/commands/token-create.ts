import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson } from "../output.ts";
import { globalOptions, required } from "./args.ts";
import { defineCommand, flag, json, requiredText, text, type Options } from "../command.ts";

export const command = defineCommand({
  options: [
    requiredText("name", "--name <name>", "a name people recognise, e.g. ci-deploy"),
    requiredText("scopes", "--scopes <list>", "comma-separated: secrets:read, secrets:write, secrets:reveal, audit:read, admin"),
    requiredText("owners", "--owners <list>", "comma-separated owner patterns: project/acme, project/*, user/alice, system, *"),
    text("ttl", "--ttl <duration>", "lifetime, e.g. 90m, 12h, 30d (default: no expiry)"),
    flag("interactive", "--interactive", "a person's token: reveals need recent authentication ($COFFER_REAUTH_WINDOW)"),
    json,
  ],
  example: "coffer token create --name ci-deploy --scopes secrets:read --owners project/acme --ttl 30d",
});

const split = (text: string): string[] =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

/** `coffer token create`: locally (the operator holds the master key) or on the server (an admin token); prints the token once. */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const created = await withBackend(io, globalOptions(args), (b) =>
    b.tokens.create({
      name: required(args.name, "--name"),
      scopes: split(required(args.scopes, "--scopes")),
      owners: split(required(args.owners, "--owners")),
      ttl: args.ttl ?? null,
      interactive: args.interactive,
    }),
  );
  const token = new TextDecoder().decode(created.token.reveal());
  created.token.wipe();
  if (args.json) printJson(io, { ...created.view, token });
  else {
    io.stdout.write(`${token}\n`);
    io.stderr.write(
      `created token ${created.view.id} (${created.view.name}): scopes ${created.view.scopes.join(",")}, owners ${created.view.owners.join(",")}, ${created.view.expiresAt === null ? "no expiry" : `expires ${created.view.expiresAt}`}; it is shown once\n`,
    );
  }
  return 0;
}
