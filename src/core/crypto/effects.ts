import { randomBytes } from "node:crypto";

/** Randomness and time enter the pure crypto core only through this port, so vectors can pin them. */
export interface Effects {
  random(n: number): Uint8Array;
  now(): Date;
}

export const systemEffects: Effects = Object.freeze({
  random: (n: number): Uint8Array => randomBytes(n),
  now: (): Date => new Date(),
});
