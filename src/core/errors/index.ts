export { CODES, RETIRED_CODES } from "./codes.ts";
export type { ErrorCode } from "./codes.ts";
export { CofferError, isCofferError, invalidInput, assertNever } from "./coffer-error.ts";
export type { ErrorDetails } from "./coffer-error.ts";
