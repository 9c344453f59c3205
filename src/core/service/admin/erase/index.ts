/** Crypto-erase of an owner (`coffer erase`). */
export { CryptoErase, parseRetention } from "./crypto-erase.ts";
export type { BackupExposure, EraseInput, EraseReport } from "./crypto-erase.ts";
