/** API tokens: creation, listing, revocation, authentication. */
export { TokenService, parseTtl } from "./tokens.ts";
export type { CreateTokenInput, CreatedToken, TokenView } from "./tokens.ts";
