import { join } from "node:path";
import { fileRecipients, formatFromPath, updateKeysFile, type PolicySecret } from "../../files/index.ts";
import { writeLine, type Io } from "../io.ts";
import { printJson } from "../output.ts";
import { identitiesOf, readText, writeAtomic } from "./file-common.ts";
import { loadPolicy } from "./policy-common.ts";
import { defineCommand, flag, repeated, type Options } from "../command.ts";
import { policyOptions } from "./policy-options.ts";

export const command = defineCommand({
  options: [
    ...policyOptions,
    repeated("identity", "--identity <file>", "an age identity file (repeatable; also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY)"),
    flag("dryRun", "--dry-run", "only report what would change"),
  ],
  example: "coffer policy apply --dry-run",
});

type Outcome = {
  group: string;
  secret: string;
  file: string;
  status: "updated" | "unchanged" | "missing" | "would-update";
  added: string[];
  removed: string[];
};

function ageOf(s: PolicySecret): string[] {
  return s.recipients.filter((r) => r.kind === "age").map((r) => r.key);
}

/**
 * `coffer policy apply`: for every secret whose file exists and whose age recipients differ
 * from the policy's, rewraps the same data key (updatekeys), and reports each file.
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const { policy, base } = await loadPolicy(args);
  const dry = args.dryRun;
  const identities = dry ? [] : await identitiesOf(args, io);
  const outcomes: Outcome[] = [];
  for (const s of policy.secrets) {
    const path = join(base, s.file);
    const text = await readText(path);
    const o: Outcome = { group: s.group, secret: s.name, file: s.file, status: "missing", added: [], removed: [] };
    outcomes.push(o);
    if (text === null) continue;
    const want = ageOf(s);
    const format = formatFromPath(path);
    const have = fileRecipients(Buffer.from(text), format).groups.flat();
    o.added = want.filter((r) => !have.includes(r));
    o.removed = have.filter((r) => !want.includes(r));
    const changed = o.added.length > 0 || o.removed.length > 0 || fileRecipients(Buffer.from(text), format).groups.length !== 1;
    if (!changed) o.status = "unchanged";
    else if (dry) o.status = "would-update";
    else {
      const r = await updateKeysFile(Buffer.from(text), format, identities, { recipients: { groups: [want], shamirThreshold: 0 } });
      if (r.bytes !== null) await writeAtomic(path, r.bytes);
      o.status = "updated";
    }
  }
  if (args.json) printJson(io, { files: outcomes });
  else
    for (const o of outcomes) {
      const delta = [...o.added.map((r) => `+${r}`), ...o.removed.map((r) => `-${r}`)].join(" ");
      writeLine(io.stdout, `${o.status}\t${o.file}${delta === "" ? "" : `\t${delta}`}`);
    }
  return 0;
}
