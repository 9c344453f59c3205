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
] as const;
