/** API tokens (`/v1/tokens`, admin scope). */
import * as z from "zod/mini";
import { doc, itemsOf, NullableTimestamp, text, Timestamp } from "./common.ts";

export const TokenDto = doc(
  z.object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.string()),
    owners: z.array(z.string()),
    interactive: z.boolean(),
    createdAt: Timestamp,
    createdBy: z.string(),
    expiresAt: NullableTimestamp,
    lastUsedAt: NullableTimestamp,
    revokedAt: NullableTimestamp,
  }),
  "An API token, without its secret.",
  "Token",
);
export type TokenDto = z.infer<typeof TokenDto>;

/** `POST /v1/tokens`: the only response that ever carries the token itself. */
export const CreatedTokenDto = doc(
  z.object({ ...TokenDto.def.shape, token: doc(z.string(), "The bearer token; shown once.") }),
  "A new API token, with its secret (shown once).",
  "CreatedToken",
);
export type CreatedTokenDto = z.infer<typeof CreatedTokenDto>;

export const TokenList = itemsOf(TokenDto);

export const CreateTokenBody = doc(
  z.object({
    name: text(),
    scopes: doc(z.array(text()), "Permissions such as `secrets:read`, `secrets:reveal`, `secrets:write`, `admin`."),
    owners: doc(z.array(text()), "Owner patterns the token may act on (`project/acme`, `project/*`, `*`)."),
    ttl: z.optional(z.nullable(doc(text(), "Lifetime such as `90m`, `12h`, `30d`; none: does not expire."))),
    interactive: z.optional(doc(z.boolean("must be true or false"), "A person's token: reveals need recent authentication.")),
  }),
  "A new API token.",
  "CreateTokenRequest",
);
export type CreateTokenBody = z.infer<typeof CreateTokenBody>;
