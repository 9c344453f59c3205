import { withBackend } from "../choose-backend.ts";
import type { Io } from "../io.ts";
import { printJson, printTable } from "../output.ts";
import { globalOptions } from "./args.ts";
import { defineCommand, json, type Options } from "../command.ts";

export const command = defineCommand({
  options: [json],
  example: "coffer token list --remote http://127.0.0.1:7300",
});

export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const tokens = await withBackend(io, globalOptions(args), (b) => b.tokens.list());
  if (args.json) {
    printJson(io, tokens);
    return 0;
  }
  printTable(
    io,
    ["ID", "NAME", "SCOPES", "OWNERS", "EXPIRES", "LAST USED", "STATE"],
    tokens.map((t) => [
      t.id,
      t.name,
      t.scopes.join(","),
      t.owners.join(","),
      t.expiresAt ?? "never",
      t.lastUsedAt ?? "",
      t.revokedAt !== null ? "revoked" : t.expiresAt !== null && Date.parse(t.expiresAt) <= Date.now() ? "expired" : "active",
    ]),
  );
  return 0;
}
