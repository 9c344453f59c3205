import { AesKey, encodeBase64, parseKeyBase64 } from "../crypto/index.ts";
import { CofferError } from "../errors/index.ts";
import type { Kid } from "../model/index.ts";
import { fileExists } from "./key-file.ts";
import { manifestPathFor } from "./key-storage.ts";

/**
 * The OS keychain provider: the master key (32 random bytes, base64) is one keychain entry,
 * service `coffer`, account `<kid>@<absolute data directory>` (or `COFFER_KEYCHAIN_ACCOUNT`),
 * so two data directories never share or overwrite each other's key. macOS Keychain, Windows
 * Credential Manager, and on Linux the Secret Service over D-Bus (gnome-keyring, KWallet,
 * KeePassXC), through `@napi-rs/keyring`, loaded only when this provider is used.
 */
export type KeychainSettings = {
  readonly provider: "keychain";
  readonly kid: Kid;
  readonly service: string;
  readonly account: string;
  /** The key file used instead when no keychain is reachable; null when the keychain was chosen explicitly. */
  readonly fallbackPath: string | null;
  /** Why no keychain can be reachable, known without trying (no D-Bus session bus); null to try. */
  readonly unreachable: string | null;
  readonly timeoutMs: number;
};

export type OpenedKeychain = { readonly kind: "keychain"; readonly key: AesKey } | { readonly kind: "file"; readonly path: string };

type Entry = {
  getPassword(signal?: AbortSignal | null): Promise<string | null>;
  setPassword(password: string, signal?: AbortSignal | null): Promise<void>;
};

/**
 * On Linux the entry is pinned to the Secret Service: left to choose, the binding falls back
 * to the kernel keyutils keyring, which forgets the key at logout or reboot.
 */
async function openEntry(s: KeychainSettings): Promise<Entry> {
  if (s.unreachable !== null) throw new Error(s.unreachable);
  const mod = await import("@napi-rs/keyring");
  return new mod.AsyncEntry(s.service, s.account, process.platform === "linux" ? { linux: { store: "secret-service" } } : null);
}

/** A short reason for a keychain failure: its message's first line, never more. */
function reasonOf(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return (text.split("\n")[0] ?? "").slice(0, 200);
}

/**
 * Opens the keychain's master key. Compatibility rules, in order:
 * 1. A data directory that already has `secrets/master-key` keeps using it (no migration).
 * 2. No keychain reachable: with a fallback, the file provider is used and `warn` is told
 *    once; but never when the database recorded this kid as a keychain key (KEY_UNAVAILABLE),
 *    since a new file key could not decrypt anything.
 * 3. The entry is missing: created only when the database has recorded no kid (as the file
 *    provider does); otherwise KEY_NOT_FOUND, restore it from a backup.
 * @throws CofferError KEY_UNAVAILABLE, KEY_NOT_FOUND, KEY_INVALID.
 */
export async function openKeychain(
  s: KeychainSettings,
  opts: {
    readonly allowCreate: boolean;
    readonly recorded: readonly { readonly kid: string; readonly provider: string }[];
    readonly warn?: (message: string) => void;
  },
): Promise<OpenedKeychain> {
  if (s.fallbackPath !== null && (fileExists(s.fallbackPath) || fileExists(manifestPathFor(s.fallbackPath))))
    return { kind: "file", path: s.fallbackPath };
  const recorded = opts.recorded.find((r) => r.kid === s.kid)?.provider ?? null;
  if (s.fallbackPath !== null && recorded === "file") return { kind: "file", path: s.fallbackPath };
  const where = `keychain entry service '${s.service}' account '${s.account}'`;
  let entry: Entry;
  let text: string | null;
  try {
    entry = await openEntry(s);
    text = await entry.getPassword(AbortSignal.timeout(s.timeoutMs));
  } catch (e) {
    const why = reasonOf(e);
    if (s.fallbackPath === null || recorded === "keychain") {
      throw new CofferError(
        "KEY_UNAVAILABLE",
        `the OS keychain is not reachable (${why}), and ${recorded === "keychain" ? `this database's key for kid '${s.kid}' is in it` : "COFFER_KEK_PROVIDER=keychain asks for it"}; unlock or start the keychain (on Linux a Secret Service on the D-Bus session bus)`,
        { kid: s.kid },
      );
    }
    opts.warn?.(
      `no OS keychain is reachable (${why}); the master key is kept in the file ${s.fallbackPath} instead (set COFFER_KEK_PROVIDER=file to choose it and silence this)`,
    );
    return { kind: "file", path: s.fallbackPath };
  }
  if (text !== null) return { kind: "keychain", key: parseKeyBase64(text, where) };
  if (!opts.allowCreate) {
    throw new CofferError(
      "KEY_NOT_FOUND",
      `${where} is missing, but this database holds data wrapped by kid '${s.kid}'; restore the key into the keychain from your backup or shares (a new key could not decrypt anything); if the data directory moved, set COFFER_KEYCHAIN_ACCOUNT to the old account`,
      { kid: s.kid },
    );
  }
  return { kind: "keychain", key: await createEntry(entry, s, where) };
}

/**
 * Stores a new random key and reads it back: when two processes create at once, the one
 * written last is what both read back (a loser that already used its own key is caught by the
 * fingerprint the database records, KEY_MISMATCH).
 */
async function createEntry(entry: Entry, s: KeychainSettings, where: string): Promise<AesKey> {
  const bytes = AesKey.generate().exportBytes();
  try {
    await entry.setPassword(encodeBase64(bytes), AbortSignal.timeout(s.timeoutMs));
  } catch (e) {
    throw new CofferError("KEY_UNAVAILABLE", `cannot write the ${where} (${reasonOf(e)})`, { kid: s.kid });
  } finally {
    bytes.fill(0);
  }
  const back = await entry.getPassword(AbortSignal.timeout(s.timeoutMs));
  if (back === null) throw new CofferError("KEY_UNAVAILABLE", `the ${where} vanished right after it was written`, { kid: s.kid });
  return parseKeyBase64(back, where);
}
