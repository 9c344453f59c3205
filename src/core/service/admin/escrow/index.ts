/** Key escrow: split the KEK into shares, recover it from them. */
export { KeyEscrow, recoverMasterKey } from "./key-escrow.ts";
export type { RecoveredKey, ShareInput, SplitKeyInput } from "./key-escrow.ts";
