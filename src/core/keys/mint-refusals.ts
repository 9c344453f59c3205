/** Why the env provider cannot mint, and what to do instead. */
export const ENV_REFUSAL =
  'the env key provider cannot store a new key (Coffer only reads COFFER_KEK_BASE64 / COFFER_KEK_BASE64_FILE); move the key into a keyring file (COFFER_KEYRING_FILE = { "active": "<kid>", "keys": { "<kid>": "<this base64>" } }, mode 0600) and run coffer keys rotate again, which then writes the new key into it, or use the file provider';

/** Why Coffer does not mint a key in a cloud key service, and what to do instead. */
export function cloudRefusal(service: string): string {
  return `Coffer does not create ${service} keys: create the new key in ${service} yourself, list it beside the current one in a keyring file (COFFER_KEYRING_FILE), then run: coffer keys rotate --to-kid <its kid>`;
}

export const TRANSIT_REFUSAL =
  'Coffer mints a new Transit key version only for a Transit key listed in a keyring file: put it in one (COFFER_KEYRING_FILE = { "active": "<kid>", "keys": { "<kid>": { "provider": "vault-transit", "key": "<name>" } } }, mode 0600) and run coffer keys rotate again; to move to another key, list it there too and run: coffer keys rotate --to-kid <its kid>';

/** Why a key held by a key service of this kind cannot be minted by Coffer; null for local keys. */
export function serviceRefusal(kind: string): string | null {
  if (kind === "aws-kms") return cloudRefusal("AWS KMS");
  if (kind === "vault-transit") return TRANSIT_REFUSAL;
  if (kind === "gcp-kms") return cloudRefusal("Google Cloud KMS");
  if (kind === "azure-key-vault") return cloudRefusal("Azure Key Vault");
  return null;
}
