import { join } from "node:path";
import { fileRecipients, formatFromPath, keyLabel, sameKey, updateKeysFile, type KeyRef } from "../../files/index.ts";
import { writeLine, type Io } from "../io.ts";
import { printJson } from "../output.ts";
import { identitiesOf, keyAccessOf, readText, writeAtomic } from "./file-common.ts";
import { loadPolicy } from "./policy-common.ts";
import { defineCommand, flag, repeated, type Options } from "../command.ts";
import { policyOptions } from "./policy-options.ts";

export const command = defineCommand({
  options: [
    ...policyOptions,
    repeated("identity", "--identity <file>", "an age identity file (repeatable; also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY)"),
    flag("dryRun", "--dry-run", "only report what would change"),
    flag("skipUnavailable", "--skip-unavailable", "leave out a master key that cannot be reached (warns loudly) instead of failing"),
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

/**
 * `coffer policy apply`: for every secret whose file exists and whose master keys (age, KMS,
 * GCP KMS, Azure Key Vault, Vault Transit, pgp) differ from the policy's, rewraps the same data
 * key (updatekeys: stanzas still listed are kept as they are, new ones wrapped, an unreachable
 * one an error unless --skip-unavailable), and reports each file, every key type included.
 */
export async function run(args: Options<typeof command>, io: Io): Promise<number> {
  const { policy, base } = await loadPolicy(args);
  const dry = args.dryRun;
  const identities = dry ? [] : await identitiesOf(args, io);
  const keys = keyAccessOf(args, io);
  const outcomes: Outcome[] = [];
  for (const s of policy.secrets) {
    const path = join(base, s.file);
    const text = await readText(path);
    const o: Outcome = { group: s.group, secret: s.name, file: s.file, status: "missing", added: [], removed: [] };
    outcomes.push(o);
    if (text === null) continue;
    const want: KeyRef[] = s.recipients.map((r) => r.ref);
    const format = formatFromPath(path);
    const current = fileRecipients(Buffer.from(text), format);
    const have = current.groups.flat();
    o.added = want.filter((r) => !have.some((h) => sameKey(h, r))).map(keyLabel);
    o.removed = have.filter((h) => !want.some((r) => sameKey(h, r))).map(keyLabel);
    const changed = o.added.length > 0 || o.removed.length > 0 || current.groups.length !== 1;
    if (!changed) o.status = "unchanged";
    else if (dry) o.status = "would-update";
    else {
      const r = await updateKeysFile(Buffer.from(text), format, identities, { recipients: { groups: [want], shamirThreshold: 0 }, keys });
      if (r.bytes !== null) await writeAtomic(path, r.bytes);
      o.status = "updated";
      // What was actually written (a --skip-unavailable key is not in it).
      o.added = [...r.change.added];
      o.removed = [...r.change.removed];
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
