import type { Kysely } from "kysely";

/**
 * No schema change. The state MAC moved to format 2 (BLAKE3 keyed-hash, a format byte first;
 * docs/cryptography.md), which the first open with the key applies to every row. This migration
 * exists so that an older Coffer, which accepts only format-1 MACs, refuses a database that may
 * hold format-2 MACs at start (SCHEMA_TOO_NEW: "upgrade Coffer") instead of answering every read
 * with STATE_TAMPERED.
 */
export async function up(_db: Kysely<unknown>): Promise<void> {
  // Intentionally empty: see above.
}
