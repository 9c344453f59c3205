/** One-time share links (`secrets share`, `POST /v1/shared/<token>:reveal`), served through `core.secrets`. */
export { ShareLinks } from "./share-links.ts";
