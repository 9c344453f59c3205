export { PROVIDER_KINDS } from "./kek-provider.ts";
export type { KekProvider, ProviderInfo, ProviderKind } from "./kek-provider.ts";
export { Keyring } from "./keyring.ts";
export { LocalKek } from "./local-kek.ts";
export { loadKeyring, kekNeedsCreation } from "./load-keyring.ts";
export type { KekSettings, LoadKeyringOptions } from "./load-keyring.ts";
export { assertPrivateFile } from "./key-file.ts";
export { splitKey, parseShare, combineShares } from "./shamir.ts";
export type { KeyShareSet } from "./shamir.ts";
