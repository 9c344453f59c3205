export {
  FILE_FORMATS,
  formatFromPath,
  parseDocument,
  encryptFile,
  openFile,
  resealFile,
  rotateFile,
  updateKeysFile,
  fileRecipients,
} from "./sops-file.ts";
export type { FileFormat, Recipients, Opened, KeyChange, StoreOptions, KeyAccess } from "./sops-file.ts";
export { azureRef, checkKeyRef, keyServices, kmsRef, vaultRef } from "./master-keys.ts";
export type { KeyServices } from "./master-keys.ts";
export { loadIdentities } from "./identities.ts";
export { findSopsConfig, matchRule } from "./sops-config.ts";
export type { SopsConfig, CreationRule } from "./sops-config.ts";
export { checkRecipient } from "./data-key.ts";
export { COMMENT_RULES, keyId, keyLabel, RULE_KINDS, sameKey } from "./metadata.ts";
export type { EncryptionRule, KeyRef } from "./metadata.ts";
export { envFromDocument } from "./exec-env.ts";
export { parsePolicy, findSecret, checkPolicy, sopsConfigText } from "./policy.ts";
export type { Policy, PolicySecret, PolicyFinding } from "./policy.ts";
export { BUNDLE_FORMAT, BUNDLE_VERSION, isAgeFile, needsPassphrase, openBundle, sealBundle } from "./bundle.ts";
export type { BundleEntry, BundleManifest, BundleSeal, BundleKeys, OpenedBundle } from "./bundle.ts";
export { IMPORT_FORMATS, detectImportFormat, readImportSource } from "./import-source.ts";
export type { ImportFormat, ImportSource, SourceEntry } from "./import-source.ts";
