/** Health, readiness and metrics (no token needed). */
import * as z from "zod/mini";
import { doc } from "./common.ts";

export const HealthDto = doc(z.object({ status: z.literal("ok") }), "The process is up.", "Health");
export const ReadyDto = doc(
  z.object({ status: z.literal("ready"), kid: doc(z.string(), "The active master key id.") }),
  "The store answers and a master key is active.",
  "Ready",
);
