/** The owners a caller can see (`GET /v1/owners`). */
export { OwnerListing } from "./owner-listing.ts";
export type { OwnerSummary } from "./owner-listing.ts";
