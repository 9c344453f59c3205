/** KEK rotation (`keys rotate|retire`, the admin endpoint) and the automatic rotation policy. */
export { KekRotation } from "./kek-rotation.ts";
export type { RetireReport, RotateOptions, RotationProgress, RotationReport } from "./kek-rotation.ts";
export { AutoRotation, ROTATION_LEASE } from "./auto-rotation.ts";
export type { AutoRotationOutcome } from "./auto-rotation.ts";
