/** Per-owner scope keys and internal keys, wrapped by the KEK, cached in time and size. */
export { KeyManager } from "./key-manager.ts";
export type { KeyManagerOptions, ScopeKey } from "./key-manager.ts";
