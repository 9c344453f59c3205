import { choice, flag, int, repeated, text } from "../command.ts";

const TYPES = ["yaml", "json", "dotenv", "ini", "binary"] as const;

/** The options every `coffer file …` command takes. */
export const fileOptions = [
  repeated("identity", "--identity <file>", "an age identity file (repeatable; also SOPS_AGE_KEY_FILE, SOPS_AGE_KEY)"),
  choice("inputType", "--input-type <type>", "the file's format (default: from the extension)", TYPES),
  choice("outputType", "--output-type <type>", "the output's format (must equal the input's)", TYPES),
  text("config", "--config <path>", "the .sops.yaml to use (default: $SOPS_CONFIG, else the nearest one upward)"),
] as const;

/** Where a rewritten file goes. */
export const outputOptions = [
  flag("inPlace", "-i, --in-place", "write the result over the input file (atomically)"),
  text("output", "--output <path>", "write the result to this file"),
] as const;

/** Who a file is encrypted to. */
export const recipientOptions = [
  repeated("age", "--age <recipient>", "an age recipient, age1… or age1pq1… (repeatable; default: the .sops.yaml creation rule)"),
  int("shamirSecretSharingThreshold", "--shamir-secret-sharing-threshold <n>", "key groups needed to decrypt (several groups only)"),
  repeated("kms", "--kms <arn>", "an AWS KMS key ARN, arn[+role-arn] (repeatable, comma-separated like sops)"),
  repeated("encryptionContext", "--encryption-context <k:v,…>", "with --kms: the KMS encryption context"),
  text("awsProfile", "--aws-profile <name>", "with --kms: the AWS profile written into the stanza"),
  repeated("gcpKms", "--gcp-kms <resource>", "a GCP KMS key, projects/…/cryptoKeys/… (repeatable)"),
  repeated("azureKv", "--azure-kv <url>", "an Azure Key Vault key, https://<vault>/keys/<name>[/<version>] (repeatable)"),
  repeated("hcVaultTransit", "--hc-vault-transit <uri>", "a Vault Transit key, https://<vault>/v1/<engine>/keys/<name> (repeatable)"),
  repeated("pgp", "--pgp <fingerprint>", "a PGP fingerprint (kept in updatekeys; Coffer cannot wrap for it)"),
  flag("skipUnavailable", "--skip-unavailable", "leave out a master key that cannot be reached (warns loudly) instead of failing"),
] as const;
