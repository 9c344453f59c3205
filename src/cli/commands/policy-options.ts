import { json, textOr } from "../command.ts";

/** The options every `coffer policy …` command takes. */
export const policyOptions = [textOr("policy", "--policy <path>", "the policy file", "./coffer.policy.yaml"), json] as const;
