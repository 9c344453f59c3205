import type { SecretView } from "../../core/service/index.ts";
import type { Io } from "../io.ts";
import { withCore } from "../local-core.ts";
import { printJson, printSecretTable } from "../output.ts";
import { flag, pos, str } from "./args.ts";
import { globalOptions } from "./args.ts";

export async function run(args: Record<string, unknown>, io: Io): Promise<number> {
  const owner = pos(args, 0);
  const prefix = str(args, "prefix");
  const items = await withCore(io, globalOptions(args), async (core, actor) => {
    const all: SecretView[] = [];
    let cursor: number | null = 0;
    while (cursor !== null) {
      const page: { items: readonly SecretView[]; nextCursor: number | null } = await core.secrets.list(actor, {
        ...(owner === undefined ? {} : { owner }),
        ...(prefix === undefined ? {} : { prefix }),
        includeDeleted: flag(args, "deleted"),
        cursor,
      });
      all.push(...page.items);
      cursor = page.nextCursor;
    }
    return all;
  });
  if (flag(args, "json")) printJson(io, items);
  else printSecretTable(io, items, flag(args, "meta"));
  return 0;
}
