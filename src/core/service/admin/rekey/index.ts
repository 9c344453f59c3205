/** Rewrap one owner under a new scope key (`keys rekey`). */
export { OwnerRekey } from "./owner-rekey.ts";
export type { RekeyReport } from "./owner-rekey.ts";
