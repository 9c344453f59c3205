import * as z from "zod/mini";
import { CofferError } from "../errors/index.ts";
import { parseKeyBase64 } from "../crypto/index.ts";
import { Kid, KID_RULE } from "../model/index.ts";
import type { Secret } from "../secret/index.ts";
import { createKeyFile, fileExists, readKeyFile, readPrivateText } from "./key-file.ts";
import { Keyring } from "./keyring.ts";
import { LocalKek } from "./local-kek.ts";

/** Where the KEK comes from; built by `loadConfig`. */
export type KekSettings =
  | { readonly provider: "file"; readonly path: string; readonly kid: Kid }
  | { readonly provider: "env"; readonly base64: Secret | null; readonly file: string | null; readonly kid: Kid }
  | { readonly provider: "keyring"; readonly path: string };

/** Options for {@link loadKeyring}. */
export type LoadKeyringOptions = {
  /** May the file provider create a missing master key? Only when nothing was ever wrapped. */
  readonly allowCreate: boolean;
};

/** True when the file provider has no key file yet (so loading would create one). */
export function kekNeedsCreation(settings: KekSettings): boolean {
  return settings.provider === "file" && !fileExists(settings.path);
}

/**
 * Loads the keyring, validating every key (exactly 32 bytes, canonical base64, private file).
 * @throws CofferError KEY_NOT_FOUND, KEY_INVALID or KEY_UNAVAILABLE with what to do.
 */
export function loadKeyring(settings: KekSettings, opts: LoadKeyringOptions): Keyring {
  switch (settings.provider) {
    case "file": {
      if (!fileExists(settings.path)) {
        if (!opts.allowCreate) {
          throw new CofferError(
            "KEY_NOT_FOUND",
            `master key file ${settings.path} is missing, but this database holds data wrapped by kid '${settings.kid}'; restore the file from your backup (a new key could not decrypt anything)`,
            { path: settings.path, kid: settings.kid },
          );
        }
        return new Keyring(settings.kid, [new LocalKek("file", settings.kid, createKeyFile(settings.path))]);
      }
      return new Keyring(settings.kid, [new LocalKek("file", settings.kid, readKeyFile(settings.path, "master key file"))]);
    }
    case "env": {
      const key =
        settings.file !== null
          ? readKeyFile(settings.file, "COFFER_KEK_BASE64_FILE")
          : settings.base64 !== null
            ? parseKeyBase64(settings.base64.revealText(), "COFFER_KEK_BASE64")
            : null;
      if (key === null) {
        throw new CofferError(
          "KEY_NOT_FOUND",
          "the env key provider needs COFFER_KEK_BASE64 or COFFER_KEK_BASE64_FILE; generate one with: openssl rand -base64 32",
        );
      }
      return new Keyring(settings.kid, [new LocalKek("env", settings.kid, key)]);
    }
    case "keyring":
      return loadKeyringFile(settings.path);
  }
}

const KeyringFile = z.strictObject({ active: z.string(), keys: z.record(z.string(), z.string()) });

function loadKeyringFile(path: string): Keyring {
  const text = readPrivateText(path, "keyring file");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CofferError(
      "KEY_INVALID",
      `keyring file ${path} is not valid JSON; expected { "active": "<kid>", "keys": { "<kid>": "<base64>" } }`,
      { path },
    );
  }
  const parsed = KeyringFile.safeParse(json);
  if (!parsed.success) {
    throw new CofferError("KEY_INVALID", `keyring file ${path} must be { "active": "<kid>", "keys": { "<kid>": "<base64>" } }`, { path });
  }
  const providers = Object.entries(parsed.data.keys).map(([kid, b64]) => {
    const k = Kid.safeParse(kid);
    if (!k.success) throw new CofferError("KEY_INVALID", `keyring file ${path}: kid '${kid.slice(0, 64)}' ${KID_RULE}`, { path });
    return new LocalKek("keyring", k.data, parseKeyBase64(b64, `keyring file ${path} key '${kid}'`));
  });
  const active = Kid.safeParse(parsed.data.active);
  if (!active.success || !Object.hasOwn(parsed.data.keys, parsed.data.active)) {
    throw new CofferError(
      "KEY_INVALID",
      `keyring file ${path}: "active" must name one of its keys (${Object.keys(parsed.data.keys).join(", ")})`,
      { path },
    );
  }
  return new Keyring(active.data, providers);
}
