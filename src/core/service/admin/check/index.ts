/** `coffer secrets check`: reused and drifted values, by keyed HMAC, decrypting nothing. */
export { ValueCheck } from "./value-check.ts";
export type { CheckReport, CheckedSecret } from "./value-check.ts";
