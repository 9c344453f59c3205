export { Secret, MASK } from "./secret.ts";
