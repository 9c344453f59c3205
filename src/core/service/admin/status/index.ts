/** The encryption status (`keys status`, `GET /v1/admin/encryption`). */
export { KeyStatusService, keyStatus, NONCE_BUDGET_PER_KEY } from "./key-status.ts";
export type { KeyStatus, KidStatus, StatusPolicy } from "./key-status.ts";
