import { CofferError } from "../core/errors/index.ts";
import type { CommandModule, CommandSpec } from "./command.ts";
import type { Io } from "./io.ts";

/** A command as the registry knows it: where it sits, one line of help, and its module (loaded lazily). */
export type Entry = {
  readonly path: string;
  readonly summary: string;
  /** false: takes no --remote (works on files, never on stored data). */
  readonly remote?: false;
  readonly load: () => Promise<CommandModule>;
};

/** Typed once per entry: the module's options object matches its own spec. */
const cmd = <S extends CommandSpec>(
  path: string,
  summary: string,
  load: () => Promise<CommandModule<S>>,
  opts: { readonly remote?: false } = {},
): Entry => ({ path, summary, ...opts, load: load });

export const GROUPS: Readonly<Record<string, string>> = {
  secrets: "store, read and manage secrets",
  template: "templates stored per owner, for hosts to render (coffer render --stored)",
  audit: "read and verify the audit log",
  token: "API tokens for the server (locally, or on a server with --remote or $COFFER_ADDR and an admin token)",
  keys: "key status, rotation and rekeying, and splitting and recombining the master key",
  file: "SOPS-compatible encrypted files (age, AWS KMS, GCP KMS, Azure Key Vault, Vault Transit), interoperable with sops",
  policy: "the declarative recipients policy (coffer.policy.yaml)",
};

/** Every command, in help order. Each module exports its options (`command`) and its `run`. */
export const COMMANDS: readonly Entry[] = [
  cmd("secrets set", "store a new version (value from a hidden prompt, --stdin or --file)", () => import("./commands/secrets-set.ts")),
  cmd("secrets get", "show a secret, masked; --reveal prints the plaintext", () => import("./commands/secrets-get.ts")),
  cmd("secrets unset", "delete a secret (soft: history is kept)", () => import("./commands/secrets-unset.ts")),
  cmd("secrets list", "list secrets, masked", () => import("./commands/secrets-list.ts")),
  cmd(
    "secrets check",
    "compare stored value HMACs without decrypting: values reused across owners, drift, unchecked versions (admin)",
    () => import("./commands/secrets-check.ts"),
  ),
  cmd("secrets history", "list a secret's versions", () => import("./commands/secrets-history.ts")),
  cmd(
    "secrets rotate",
    "re-encrypt every version under fresh data keys (--regenerate: a new random value)",
    () => import("./commands/secrets-rotate.ts"),
  ),
  cmd(
    "secrets generate",
    "store a random value from the OS CSPRNG (never printed unless --reveal)",
    () => import("./commands/secrets-generate.ts"),
  ),
  cmd(
    "secrets import",
    "import secrets from dotenv, JSON, YAML, a SOPS file or a Coffer bundle, in one transaction (audited)",
    () => import("./commands/secrets-import.ts"),
  ),
  cmd(
    "secrets export",
    "list an owner's secrets (masked); --bundle writes every value into an age-encrypted bundle (audited reveals)",
    () => import("./commands/secrets-export.ts"),
  ),
  cmd("run", "run a command with an owner's secrets as environment variables", () => import("./commands/run.ts")),
  cmd(
    "render",
    "render a template with secrets, each escaped for the output format (audited reveals)",
    () => import("./commands/render.ts"),
  ),
  cmd(
    "template put",
    "store (or replace) a template; its format comes from the name, e.g. backup.toml",
    () => import("./commands/template-put.ts"),
  ),
  cmd("template get", "print a stored template's text (never a secret's value)", () => import("./commands/template-get.ts")),
  cmd("template list", "list an owner's templates", () => import("./commands/template-list.ts")),
  cmd("template delete", "delete a stored template", () => import("./commands/template-delete.ts")),
  cmd("migrate", "apply pending database migrations (PostgreSQL; SQLite migrates itself)", () => import("./commands/migrate.ts")),
  cmd("audit list", "list audit events", () => import("./commands/audit-list.ts")),
  cmd(
    "audit verify",
    "check the audit chain: every event unmodified, none deleted or reordered, secrets' state matching it",
    () => import("./commands/audit-verify.ts"),
  ),
  cmd(
    "import",
    "import secrets from a legacy system's v1:/v2: encrypted values (verified, audited, all or nothing)",
    () => import("./commands/import-legacy.ts"),
  ),
  cmd(
    "erase",
    "crypto-erase an owner: delete its secrets and scope keys for good (audited), and say when backups stop holding them",
    () => import("./commands/erase.ts"),
  ),
  cmd("serve", "run the HTTP API server (prints the first admin token once, on a fresh database)", () => import("./commands/serve.ts")),
  cmd("token create", "create a token and print it once", () => import("./commands/token-create.ts")),
  cmd("token list", "list tokens (never the tokens themselves)", () => import("./commands/token-list.ts")),
  cmd("token revoke", "revoke a token: every server refuses it from the next request on", () => import("./commands/token-revoke.ts")),
  cmd(
    "keys rotate",
    "mint a new master key (or switch to --to-kid), make it active and rewrap every scope key under it (resumable)",
    () => import("./commands/keys-rotate.ts"),
  ),
  cmd(
    "keys retire",
    "retire a kid nothing depends on any more; data still wrapped by it then fails with KEY_RETIRED",
    () => import("./commands/keys-retire.ts"),
  ),
  cmd(
    "keys rekey",
    "give an owner a new scope key and rewrap every data key under it (online, audited)",
    () => import("./commands/keys-rekey.ts"),
  ),
  cmd(
    "keys status",
    "the active kid; every kid with its provider, fingerprint, wrap count and what depends on it",
    () => import("./commands/keys-status.ts"),
  ),
  cmd(
    "keys split",
    "split the master key into N shares (Shamir), any K of which rebuild it (audited)",
    () => import("./commands/keys-split.ts"),
  ),
  cmd(
    "keys combine",
    "rebuild the master key from K shares and verify it against the shares and the configured key",
    () => import("./commands/keys-combine.ts"),
  ),
  cmd("file encrypt", "encrypt a plaintext file (to stdout unless --in-place/--output)", () => import("./commands/file-encrypt.ts"), {
    remote: false,
  }),
  cmd(
    "file decrypt",
    "decrypt a file after verifying its MAC (to stdout unless --in-place/--output)",
    () => import("./commands/file-decrypt.ts"),
    { remote: false },
  ),
  cmd(
    "file edit",
    "edit the plaintext in $VISUAL/$EDITOR; unchanged values keep their ciphertext",
    () => import("./commands/file-edit.ts"),
    {
      remote: false,
    },
  ),
  cmd(
    "file updatekeys",
    "rewrap the SAME data key for the current recipients (.sops.yaml or --age); values untouched",
    () => import("./commands/file-updatekeys.ts"),
    { remote: false },
  ),
  cmd(
    "file rotate",
    "make a NEW data key and re-encrypt every value (to stdout unless --in-place/--output)",
    () => import("./commands/file-rotate.ts"),
    { remote: false },
  ),
  cmd(
    "policy check",
    "validate the policy; list unused recipients and secrets nobody can read",
    () => import("./commands/policy-check.ts"),
    { remote: false },
  ),
  cmd("policy recipients", "the computed recipients of one secret", () => import("./commands/policy-recipients.ts"), { remote: false }),
  cmd("policy sops-config", "write .sops.yaml creation rules, one per secret file", () => import("./commands/policy-sops-config.ts"), {
    remote: false,
  }),
  cmd("policy apply", "run updatekeys on every secret file whose computed recipients changed", () => import("./commands/policy-apply.ts"), {
    remote: false,
  }),
  cmd("completion", "print a shell completion script: bash, zsh or fish", () => import("./commands/completion.ts"), { remote: false }),
];

/**
 * Parses argv with commander and runs the command. Only the command named in argv is loaded
 * (help and completion load them all). Help and version exit 0; commander's usage errors
 * become USAGE errors for main.ts to report.
 */
export async function runProgram(argv: readonly string[], io: Io): Promise<number> {
  const { buildProgram, isCommanderExit, usageMessage } = await import("./command-tree.ts");
  const status = { code: 0 };
  try {
    const program = await buildProgram(argv, io, status);
    await program.parseAsync([...argv], { from: "user" });
    return status.code;
  } catch (e) {
    if (isCommanderExit(e)) return 0;
    const usage = usageMessage(e);
    if (usage === null) throw e;
    throw new CofferError("USAGE", usage);
  }
}
