/** Bulk import and bundle export (`POST /v1/secrets:import`, `GET /v1/secrets:export`). */
import * as z from "zod/mini";
import { doc, text } from "./common.ts";

export const IMPORT_FORMATS = ["dotenv", "json", "yaml", "sops", "bundle"] as const;
export const IMPORT_MODES = ["merge", "replace"] as const;

/**
 * The body of `POST /v1/secrets:import`. `content` is the file, base64. `dotenv`, `json` and
 * `yaml` are plaintext and need `allowPlaintext: true`. A `sops` file or a `bundle` is opened ON
 * THE SERVER with `identities` (age secret keys) or, for a passphrase bundle, `passphrase`:
 * the server holds them in memory for this request only, never stores or logs them.
 */
export const ImportBody = doc(
  z.object({
    owner: z.optional(doc(text(), "The target; default for a bundle: the owner in its manifest.")),
    mode: z.optional(
      doc(
        z.enum(IMPORT_MODES, { error: "must be merge or replace" }),
        "`merge` (default) or `replace` (the owner holds exactly these keys).",
      ),
    ),
    format: z.enum(IMPORT_FORMATS, { error: `must be one of ${IMPORT_FORMATS.join(", ")}` }),
    content: doc(text().check(z.regex(/^[A-Za-z0-9+/]*={0,2}$/, "must be base64")), "The file, base64."),
    allowPlaintext: z.optional(doc(z.boolean("must be true or false"), "Required for dotenv, json and yaml.")),
    identities: z.optional(
      doc(z.array(text()).check(z.maxLength(16, "at most 16 identities")), "age secret keys to open a sops file or bundle."),
    ),
    passphrase: z.optional(doc(text(), "The passphrase of a passphrase bundle.")),
  }),
  "A file to import.",
  "ImportRequest",
);
export type ImportRequestDto = z.input<typeof ImportBody>;

/** What an import wrote: names and versions only. */
export const ImportSummaryDto = doc(
  z.object({
    owner: z.string(),
    mode: z.enum(IMPORT_MODES),
    imported: z.int(),
    updated: z.int(),
    deleted: z.array(z.string()),
    secrets: z.array(z.object({ key: z.string(), version: z.int(), existed: z.boolean() })),
  }),
  "What an import wrote: names and versions only.",
  "ImportSummary",
);
export type ImportSummaryDto = z.infer<typeof ImportSummaryDto>;

export const ExportQuery = z.object({
  owner: doc(text(), "The owner to export (`project/acme`, `system`)."),
  prefix: z.optional(doc(text(), "Only key names starting with this.")),
  reason: z.optional(doc(text(), "Why (or the X-Coffer-Reason header, URI-encoded).")),
  recipient: z.optional(doc(z.union([text(), z.array(text())]), "age recipients (repeatable); or the X-Coffer-Bundle-Passphrase header.")),
});
