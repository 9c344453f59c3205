import { Command, CommanderError, Option } from "commander";
import { CofferError } from "../core/errors/index.ts";
import type { Io } from "./io.ts";

/** A command module: lazy-loaded, thin, with injected I/O. Returns the exit status. */
type Run = (args: Record<string, unknown>, io: Io) => Promise<number>;
type Loader = () => Promise<{ run: Run }>;

const collect = (v: string, prev: readonly string[]): string[] => [...prev, v];
const int =
  (field: string) =>
  (v: string): number => {
    if (!/^\d+$/.test(v)) throw new CofferError("INVALID_INPUT", `${field}: must be a whole number`, { field });
    return Number(v);
  };

function build(io: Io, status: { code: number }): Command {
  const program = new Command("coffer")
    .description("Coffer: an envelope-encrypted secret store")
    .version("0.1.0")
    .enablePositionalOptions()
    .option("--home <dir>", "data directory, given before the command (default: $COFFER_HOME or ~/.local/share/coffer)")
    .option(
      "--db <url>",
      "database: postgres://… or sqlite:<path> (default: $COFFER_DB_URL, $DATABASE_URL, or SQLite in the data directory)",
    )
    .option("--remote <url>", "work against a Coffer server (default: $COFFER_ADDR; the token from $COFFER_TOKEN)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s), outputError: () => undefined });
  const act =
    (load: Loader) =>
    async (...a: unknown[]): Promise<void> => {
      const cmd = a.at(-1) as Command;
      const args = { ...program.opts(), ...cmd.opts(), _: cmd.processedArgs };
      status.code = await (await load()).run(args, io);
    };
  const secrets = program.command("secrets").description("store, read and manage secrets");
  secrets
    .command("set <owner> <key> [value]")
    .description("store a new version (value from a hidden prompt, --stdin or --file)")
    .option("--stdin", "read the value from standard input (one trailing newline is dropped)")
    .option("--file <path>", "read the value from a file, byte for byte")
    .option("--meta <k=v>", "a metadata tag (repeatable)", collect, [])
    .option("--expect-version <n>", "write only if the current version is n (0: must not exist)", int("expect-version"))
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/secrets-set.ts")));
  secrets
    .command("get <owner> <key>")
    .description("show a secret, masked; --reveal prints the plaintext")
    .option("--reveal", "print the plaintext (audited)")
    .option("--reason <text>", "why the plaintext is needed (recorded in the audit log)")
    .option("--yes", "do not ask for confirmation (required when not interactive)")
    .option("--version <n>", "a specific version", int("version"))
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/secrets-get.ts")));
  secrets
    .command("unset <owner> <key>")
    .description("delete a secret (soft: history is kept)")
    .option("--expect-version <n>", "delete only if the current version is n", int("expect-version"))
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/secrets-unset.ts")));
  secrets
    .command("list [owner]")
    .description("list secrets, masked")
    .option("--prefix <p>", "only keys starting with p")
    .option("--meta", "show metadata")
    .option("--deleted", "include deleted secrets")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/secrets-list.ts")));
  secrets
    .command("check [owner]")
    .description("compare stored value HMACs without decrypting: values reused across owners, drift, unchecked versions (admin)")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/secrets-check.ts")));
  secrets
    .command("history <owner> <key>")
    .description("list a secret's versions")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/secrets-history.ts")));
  secrets
    .command("rotate <owner> <key>")
    .description("re-encrypt every version under fresh data keys (--regenerate: a new random value)")
    .option("--regenerate", "write a fresh random value made with the secret's generation policy")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/secrets-rotate.ts")));
  secrets
    .command("generate <owner> <key>")
    .description("store a random value from the OS CSPRNG (never printed unless --reveal)")
    .option("--length <n>", "characters (default 32)", int("length"))
    .option("--charset <set>", "alnum (default), alnum-symbols, hex, base64url, digits or custom:<chars>")
    .option("--bytes <n>", "random bytes instead of characters, encoded with --encoding", int("bytes"))
    .option("--encoding <enc>", "with --bytes: hex, base64 or base64url (default)")
    .option("--if-missing", "create only when the secret does not exist (safe with concurrent callers)")
    .option("--meta <k=v>", "a metadata tag (repeatable)", collect, [])
    .option("--reveal", "print the value (an audited reveal; needs --reason, and --yes when not interactive)")
    .option("--reason <text>", "with --reveal: why (recorded in the audit log)")
    .option("--yes", "with --reveal: do not ask for confirmation")
    .option("--json", "machine-readable output")
    .addHelpText(
      "after",
      "\nExample:\n  coffer secrets generate project/acme RUSTIC_PASSWORD --if-missing --length 40 --charset alnum-symbols\n",
    )
    .action(act(() => import("./commands/secrets-generate.ts")));
  secrets
    .command("import")
    .description("import secrets from dotenv, JSON, YAML, a SOPS file or a Coffer bundle, in one transaction (audited)")
    .requiredOption("--file <path>", "the file to import")
    .option("--owner <owner>", "whose secrets: user/<id>, project/<id> or system (default for a bundle: its own owner)")
    .option("--merge", "upsert the given keys, keep the others (default)")
    .option("--replace", "afterwards the owner holds exactly the given keys: the others are deleted (soft)")
    .option("--allow-plaintext", "accept a plaintext file (dotenv, JSON, YAML)")
    .addOption(
      new Option("--format <format>", "the file's format (default: from its content and extension)").choices([
        "dotenv",
        "json",
        "yaml",
        "sops",
        "bundle",
      ]),
    )
    .option(
      "--identity <file>",
      "an age identity file for a SOPS file or bundle (repeatable; also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY)",
      collect,
      [],
    )
    .option("--passphrase", "the bundle is sealed with a passphrase ($COFFER_BUNDLE_PASSPHRASE, or a hidden prompt)")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/secrets-import.ts")));
  secrets
    .command("export <owner>")
    .description("list an owner's secrets (masked); --bundle writes every value into an age-encrypted bundle (audited reveals)")
    .option("--prefix <p>", "only keys starting with p")
    .option("--bundle", "export the values, encrypted with age (armored)")
    .option("--recipient <age1…>", "with --bundle: an age recipient (repeatable)", collect, [])
    .option("--passphrase", "with --bundle: seal with a passphrase ($COFFER_BUNDLE_PASSPHRASE, or a hidden prompt) instead")
    .option("--output <file>", "with --bundle or --reveal: write to a new file with mode 0600 instead of stdout")
    .option("--reveal", "print every current value in plaintext as --format (audited reveals; needs --reason)")
    .option("--format <format>", "with --reveal: dotenv, json or yaml")
    .option("--reason <text>", "why the values are exported (recorded in the audit log; default for --bundle: coffer secrets export)")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/secrets-export.ts")));
  program
    .command("run")
    .description("run a command with an owner's secrets as environment variables")
    .option("--owner <owner>", "whose secrets: user/<id>, project/<id> or system")
    .option("--file <path>", "a SOPS-encrypted file whose top-level values are injected (like sops exec-env)")
    .option("--identity <file>", "with --file: an age identity file (repeatable; also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY)", collect, [])
    .option("--prefix <p>", "only keys starting with p")
    .option("--no-override", "keep variables already set in the environment")
    .option("--allow-env <name>", "inject this name even though it changes how programs load (PATH, LD_PRELOAD…; repeatable)", collect, [])
    .option("--keep-env <name>", "let the program inherit this Coffer credential (COFFER_TOKEN…; repeatable)", collect, [])
    .option("--strict", "fail, starting nothing, if any name would not be injected")
    .option("--allow-empty", "run even when the owner (or --prefix) has no secrets")
    .argument("<command...>", "the command and its arguments, after --")
    .action(act(() => import("./commands/run.ts")));
  program
    .command("render")
    .description("render a template with secrets, each escaped for the output format (audited reveals)")
    .option("--template <file>", 'a template file, e.g. backup.toml.tmpl with {{ secret "project/acme" "RUSTIC_PASSWORD" }}')
    .option("--stored <owner/name>", "a template stored on the server or database, e.g. project/acme/backup.toml")
    .option("--owner <owner>", 'the owner of short references ({{ secret "KEY" }})')
    .option("--out <file>", "write here atomically (default: standard output)")
    .option("--mode <octal>", "the mode of --out, set before any byte is written", "0600")
    .option("--format <format>", "toml, json, yaml, dotenv, shell or text (default: from the template's name)")
    .option("--reason <text>", "recorded with each reveal (default: render <template name>)")
    .addHelpText(
      "after",
      "\nExample:\n  coffer render --template backup.toml.tmpl --owner project/acme --out /etc/rustic/backup.toml --mode 0600\n",
    )
    .action(act(() => import("./commands/render.ts")));
  const template = program.command("template").description("templates stored per owner, for hosts to render (coffer render --stored)");
  template
    .command("put <owner> <name>")
    .description("store (or replace) a template; its format comes from the name, e.g. backup.toml")
    .option("--file <path>", "read the template from a file (default: standard input)")
    .option("--json", "machine-readable output")
    .addHelpText("after", "\nExample:\n  coffer template put project/acme backup.toml --file backup.toml.tmpl\n")
    .action(act(() => import("./commands/template.ts").then((m) => ({ run: m.put }))));
  template
    .command("get <owner> <name>")
    .description("print a stored template's text (never a secret's value)")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/template.ts").then((m) => ({ run: m.get }))));
  template
    .command("list <owner>")
    .description("list an owner's templates")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/template.ts").then((m) => ({ run: m.list }))));
  template
    .command("delete <owner> <name>")
    .description("delete a stored template")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/template.ts").then((m) => ({ run: m.remove }))));
  program
    .command("migrate")
    .description("apply pending database migrations (PostgreSQL; SQLite migrates itself)")
    .option("--status", "only show applied and pending migrations")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/migrate.ts")));
  const audit = program.command("audit").description("read and verify the audit log");
  audit
    .command("list")
    .description("list audit events")
    .option("--owner <owner>", "only events for this owner")
    .option("--action <action>", "only this action, e.g. secret.reveal")
    .option("--after <seq>", "only events after this sequence number", int("after"))
    .addOption(new Option("--limit <n>", "at most n events").argParser(int("limit")).default(100))
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/audit-list.ts")));
  audit
    .command("verify")
    .description("check the audit chain: every event unmodified, none deleted or reordered, secrets' state matching it")
    .option("--anchor <seq:mac>", "a head recorded earlier (audit list --json, or this command's output) that must still be in the chain")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/audit-verify.ts")));
  program
    .command("import")
    .description("import secrets from a legacy system's v1:/v2: encrypted values (verified, audited, all or nothing)")
    .requiredOption("--legacy <file>", "a CSV (header owner,key,value) or JSON array of { owner, key, value }")
    .option("--legacy-key-file <path>", "the legacy master key for v1: values (base64, 32 bytes, mode 0600)")
    .option("--legacy-keyring <path>", 'the legacy keyring for v2:<kid>: values ({ "active", "keys": { "<kid>": "<base64>" } })')
    .addOption(new Option("--format <format>", "the listing's format (default: from the file extension)").choices(["csv", "json"]))
    .option("--dry-run", "decrypt, re-encrypt and verify everything, then write nothing")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/import-legacy.ts")));
  program
    .command("erase <owner>")
    .description("crypto-erase an owner: delete its secrets and scope keys for good (audited), and say when backups stop holding them")
    .option("--yes", "do not ask for confirmation (required when not interactive)")
    .option("--backup-retention <duration>", "how long database backups are kept, e.g. 30d, 12h, 90m (default: $COFFER_BACKUP_RETENTION)")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/erase.ts")));
  program
    .command("serve")
    .description("run the HTTP API server (prints the first admin token once, on a fresh database)")
    .addOption(new Option("--port <port>", "TCP port (0: any free port)").argParser(int("port")).default(7300))
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--public-url <url>", "the base URL clients use, for one-time links (default: from the request)")
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate chain; reloaded on SIGHUP (default: $COFFER_TLS_CERT)")
    .option("--tls-key <file>", "the certificate's PEM private key, not readable by others (default: $COFFER_TLS_KEY)")
    .option(
      "--trust-proxy <list>",
      "comma-separated proxy addresses/CIDRs whose X-Forwarded-For/-Proto are believed (default: $COFFER_TRUST_PROXY; none)",
    )
    .action(act(() => import("./commands/serve.ts")));
  const token = program
    .command("token")
    .description("API tokens for the server (locally, or on a server with --remote or $COFFER_ADDR and an admin token)");
  token
    .command("create")
    .description("create a token and print it once")
    .requiredOption("--name <name>", "a name people recognise, e.g. ci-deploy")
    .requiredOption("--scopes <list>", "comma-separated: secrets:read, secrets:write, secrets:reveal, audit:read, admin")
    .requiredOption("--owners <list>", "comma-separated owner patterns: project/acme, project/*, user/alice, system, *")
    .option("--ttl <duration>", "lifetime, e.g. 90m, 12h, 30d (default: no expiry)")
    .option("--interactive", "a person's token: reveals need recent authentication ($COFFER_REAUTH_WINDOW)")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/token-create.ts")));
  token
    .command("list")
    .description("list tokens (never the tokens themselves)")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/token-list.ts")));
  token
    .command("revoke <id>")
    .description("revoke a token: every server refuses it from the next request on")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/token-revoke.ts")));
  const keys = program.command("keys").description("key status, and splitting and recombining the master key");
  keys
    .command("rotate")
    .description("mint a new master key (or switch to --to-kid), make it active and rewrap every scope key under it (resumable)")
    .option("--resume", "only finish an interrupted rotation (running rotate again does the same first)")
    .option("--kid <kid>", "the kid of the new key (default: k<today>, e.g. k2026-12-02)")
    .option("--to-kid <kid>", "switch to this kid of the keyring (a key you created, e.g. in a cloud KMS) instead of minting")
    .option(
      "--backup-retention <duration>",
      "how long database backups are kept, to say when the old kid can be retired (default: $COFFER_BACKUP_RETENTION)",
    )
    .addOption(new Option("--batch <n>", "keys per transaction").argParser(int("batch")).default(500))
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/keys-rotate.ts")));
  keys
    .command("retire <kid>")
    .description("retire a kid nothing depends on any more; data still wrapped by it then fails with KEY_RETIRED")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/keys-retire.ts")));
  keys
    .command("rekey <owner>")
    .description("give an owner a new scope key and rewrap every data key under it (online, audited)")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/keys-rekey.ts")));
  keys
    .command("status")
    .description("the active kid; every kid with its provider, fingerprint, wrap count and what depends on it")
    .option("--json", "machine-readable output (the active kid is `active`)")
    .action(act(() => import("./commands/keys-status.ts")));
  keys
    .command("split")
    .description("split the master key into N shares (Shamir), any K of which rebuild it (audited)")
    .requiredOption("--shares <n>", "how many shares to make (N, 2-255)", int("shares"))
    .requiredOption("--threshold <k>", "how many shares rebuild the key (K, 2-N)", int("threshold"))
    .option("--out-dir <dir>", "write share-<i>-of-<N>.txt files (mode 0600) there instead of printing the shares")
    .option("--kid <kid>", "split this kid of the keyring instead of the active key")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/keys-split.ts")));
  keys
    .command("combine")
    .description("rebuild the master key from K shares and verify it against the shares and the configured key")
    .option("--file <path>", "a file of shares, one per line (repeatable)", collect, [])
    .option("--stdin", "read shares from standard input, one per line")
    .option("--out <file>", "write the recovered key (base64) to a new file with mode 0600")
    .option("--stdout-key", "print the recovered key (base64) on standard output")
    .option("--json", "machine-readable output")
    .action(act(() => import("./commands/keys-combine.ts")));
  // SOPS-compatible files and the recipients policy (docs/files.md, docs/policy.md).
  const file = program.command("file").description("SOPS-compatible encrypted files (age recipients), interoperable with sops");
  const fileCmd = (verb: string, what: string, load: Loader): Command =>
    file
      .command(`${verb} <path>`)
      .description(what)
      .option("--identity <file>", "an age identity file (repeatable; also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY)", collect, [])
      .addOption(
        new Option("--input-type <type>", "the file's format (default: from the extension)").choices([
          "yaml",
          "json",
          "dotenv",
          "ini",
          "binary",
        ]),
      )
      .addOption(
        new Option("--output-type <type>", "the output's format (must equal the input's)").choices([
          "yaml",
          "json",
          "dotenv",
          "ini",
          "binary",
        ]),
      )
      .option("--config <path>", "the .sops.yaml to use (default: $SOPS_CONFIG, else the nearest one upward)")
      .action(act(load));
  const output = (c: Command): Command =>
    c
      .option("-i, --in-place", "write the result over the input file (atomically)")
      .option("--output <path>", "write the result to this file");
  const recipients = (c: Command): Command =>
    c
      .option("--age <recipient>", "an age recipient, age1… or age1pq1… (repeatable; default: the .sops.yaml creation rule)", collect, [])
      .option(
        "--shamir-secret-sharing-threshold <n>",
        "key groups needed to decrypt (several groups only)",
        int("shamir-secret-sharing-threshold"),
      );
  recipients(
    output(
      fileCmd("encrypt", "encrypt a plaintext file (to stdout unless --in-place/--output)", () => import("./commands/file-encrypt.ts")),
    ),
  )
    .option("--encrypted-regex <re>", "encrypt only values under keys matching re")
    .option("--unencrypted-regex <re>", "leave values under keys matching re in plaintext")
    .option("--encrypted-suffix <s>", "encrypt only values under keys ending with s")
    .option("--unencrypted-suffix <s>", "leave values under keys ending with s in plaintext (default: _unencrypted)")
    .option("--mac-only-encrypted", "the MAC covers encrypted values only");
  output(
    fileCmd(
      "decrypt",
      "decrypt a file after verifying its MAC (to stdout unless --in-place/--output)",
      () => import("./commands/file-decrypt.ts"),
    ),
  ).option("--ignore-mac", "decrypt even if the MAC does not verify (warns on stderr)");
  recipients(
    fileCmd(
      "edit",
      "edit the plaintext in $VISUAL/$EDITOR; unchanged values keep their ciphertext",
      () => import("./commands/file-edit.ts"),
    ),
  ).option("--ignore-mac", "open even if the MAC does not verify (warns on stderr)");
  recipients(
    fileCmd(
      "updatekeys",
      "rewrap the SAME data key for the current recipients (.sops.yaml or --age); values untouched",
      () => import("./commands/file-updatekeys.ts"),
    ),
  )
    .option("--output <path>", "write the result here instead of in place")
    .option("-y, --yes", "accepted for sops compatibility (Coffer never prompts)");
  recipients(
    output(
      fileCmd(
        "rotate",
        "make a NEW data key and re-encrypt every value (to stdout unless --in-place/--output)",
        () => import("./commands/file-rotate.ts"),
      ),
    ),
  ).option("--ignore-mac", "rotate even if the MAC does not verify (warns on stderr)");
  const policy = program.command("policy").description("the declarative recipients policy (coffer.policy.yaml)");
  const policyCmd = (usage: string, what: string, load: Loader): Command =>
    policy
      .command(usage)
      .description(what)
      .option("--policy <path>", "the policy file", "./coffer.policy.yaml")
      .option("--json", "machine-readable output")
      .action(act(load));
  policyCmd("check", "validate the policy; list unused recipients and secrets nobody can read", () => import("./commands/policy-check.ts"));
  policyCmd("recipients <group> <secret>", "the computed recipients of one secret", () => import("./commands/policy-recipients.ts"));
  policyCmd("sops-config", "write .sops.yaml creation rules, one per secret file", () => import("./commands/policy-sops-config.ts"))
    .option("--output <path>", "where to write (default: .sops.yaml beside the policy)")
    .option("--stdout", "print instead of writing");
  policyCmd("apply", "run updatekeys on every secret file whose computed recipients changed", () => import("./commands/policy-apply.ts"))
    .option("--identity <file>", "an age identity file (repeatable; also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY)", collect, [])
    .option("--dry-run", "only report what would change");
  // Every command that touches stored data takes --remote; the local-only ones refuse it clearly.
  const REMOTE_HELP = "work against a Coffer server (default: $COFFER_ADDR; the token from $COFFER_TOKEN)";
  const leaves = (c: Command): Command[] => (c.commands.length === 0 ? [c] : c.commands.flatMap(leaves));
  for (const c of program.commands.filter((c) => c !== file && c !== policy).flatMap(leaves)) c.option("--remote <url>", REMOTE_HELP);
  return program;
}

/**
 * Parses argv with commander and runs the command. Help and version exit 0; commander's
 * usage errors become USAGE errors for main.ts to report.
 */
export async function runProgram(argv: readonly string[], io: Io): Promise<number> {
  const status = { code: 0 };
  try {
    await build(io, status).parseAsync([...argv], { from: "user" });
    return status.code;
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return 0;
    throw new CofferError("USAGE", e.message.replace(/^error: /, ""));
  }
}
