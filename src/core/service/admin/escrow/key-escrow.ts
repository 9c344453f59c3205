import type { Config } from "../../../config/index.ts";
import { encodeBase64 } from "../../../crypto/index.ts";
import { CofferError, isCofferError, type ErrorCode } from "../../../errors/index.ts";
import { combineShares, LocalKek, openKeyring, parseShare, splitKey, type KeyShareSet, type Keyring } from "../../../keys/index.ts";
import { parseKid } from "../../../model/index.ts";
import { Secret } from "../../../secret/index.ts";
import type { Actor, RequestContext } from "../../access/actor.ts";
import type { AuditLog } from "../../audit/audit-log.ts";
import type { KeyManager } from "../../scope-keys/key-manager.ts";
import { AccessGate } from "../../access/gate.ts";

export type SplitKeyInput = {
  readonly shares: number;
  readonly threshold: number;
  /** A kid of the configured keyring; the active one when absent. */
  readonly kid?: string | undefined;
};

/** One share as given: its text and where it came from (named in messages instead of the text). */
export type ShareInput = { readonly text: string; readonly source: string };

export type RecoverKeyInput = {
  readonly shares: readonly ShareInput[];
  /** Return the key as base64 text (for `--out` / `--stdout-key`); otherwise it is only verified. */
  readonly exportKey: boolean;
};

/**
 * How the recovered key compares with the configured keyring: `match` (same kid, same
 * fingerprint), `absent` (the keyring loads but has no such kid), `unavailable` (no configured
 * key could be loaded, e.g. the key file is the thing being recovered).
 */
export type ConfiguredCheck =
  { readonly kind: "match" } | { readonly kind: "absent" } | { readonly kind: "unavailable"; readonly why: ErrorCode };

export type RecoveredKey = {
  readonly kid: string;
  readonly fingerprint: string;
  readonly threshold: number;
  readonly total: number;
  readonly given: number;
  readonly configured: ConfiguredCheck;
  /** Canonical base64 of the key, only when asked for; the caller wipes it. */
  readonly keyBase64: Secret | null;
};

/**
 * Splitting the master key for escrow. The key leaves its provider only here, as shares, and
 * the split is audited (kid, K, N, split id; never share material) before the shares are
 * returned, so an unaudited split cannot happen.
 */
export class KeyEscrow {
  readonly #keys: KeyManager;
  readonly #audit: AuditLog;
  readonly #gate: AccessGate;

  constructor(core: { readonly keys: KeyManager; readonly audit: AuditLog }) {
    this.#keys = core.keys;
    this.#audit = core.audit;
    this.#gate = new AccessGate(core.audit);
  }

  /**
   * Splits the active KEK (or `input.kid`) into N shares, any K of which rebuild it.
   * @throws CofferError INVALID_INPUT (counts, kid), KEY_NOT_FOUND (no such kid),
   * KEY_UNAVAILABLE (a provider that does not release its key), AUDIT_FAILED.
   */
  async split(actor: Actor, ctx: RequestContext, input: SplitKeyInput): Promise<KeyShareSet> {
    await this.#gate.admin(actor, ctx, "keys.split");
    const keyring = this.#keys.keyring;
    const kek = input.kid === undefined ? keyring.active : keyring.get(parseKid(input.kid));
    if (!(kek instanceof LocalKek)) {
      throw new CofferError(
        "KEY_UNAVAILABLE",
        `the key '${kek.kid}' (provider ${kek.kind}) does not release its bytes; it cannot be split`,
        {
          kid: kek.kid,
        },
      );
    }
    const set = await splitKey(kek.exportKey(), { kid: kek.kid, shares: input.shares, threshold: input.threshold });
    try {
      await this.#audit.appendNow(actor, ctx, {
        action: "keys.split",
        owner: null,
        key: null,
        version: null,
        outcome: "success",
        reason: null,
        details: { kid: set.kid, fingerprint: set.fingerprint, splitId: set.splitId, threshold: set.threshold, shares: set.total },
      });
    } catch (e) {
      for (const s of set.shares) s.wipe();
      throw e;
    }
    return set;
  }
}

/**
 * Rebuilds a master key from shares and verifies it: against the fingerprint the shares record,
 * and against the configured keyring when it has that kid. Needs no database and no working
 * configured key, since it is how a lost key is recovered.
 * @throws CofferError INVALID_INPUT (a mistyped, mixed, duplicate share, or fewer than K),
 * KEY_MISMATCH (the result is not the key the shares or the configured keyring name).
 */
export async function recoverMasterKey(config: Config, input: RecoverKeyInput): Promise<RecoveredKey> {
  const parsed: ReturnType<typeof parseShare>[] = [];
  try {
    for (const s of input.shares) parsed.push(parseShare(s.text, s.source));
    const r = await combineShares(parsed);
    const configured = await compareConfigured(config, r.kid, r.fingerprint);
    let keyBase64: Secret | null = null;
    if (input.exportKey) {
      const bytes = r.key.exportBytes();
      keyBase64 = Secret.fromString(encodeBase64(bytes));
      bytes.fill(0);
    }
    return { kid: r.kid, fingerprint: r.fingerprint, threshold: r.threshold, total: r.total, given: r.given, configured, keyBase64 };
  } finally {
    for (const p of parsed) p.bytes.wipe();
  }
}

/** @throws CofferError KEY_MISMATCH when the configured key for `kid` has another fingerprint. */
async function compareConfigured(config: Config, kid: string, fingerprint: string): Promise<ConfiguredCheck> {
  let keyring: Keyring;
  try {
    keyring = await openKeyring(config.kek, { allowCreate: false, recorded: [] });
  } catch (e) {
    if (!isCofferError(e)) throw e;
    return { kind: "unavailable", why: e.code };
  }
  const info = keyring.describe().find((k) => k.kid === kid);
  if (info === undefined) return { kind: "absent" };
  if (info.fingerprint !== fingerprint) {
    throw new CofferError(
      "KEY_MISMATCH",
      `the shares rebuild kid '${kid}' with fingerprint ${fingerprint}, but the configured key for '${kid}' has fingerprint ${info.fingerprint}; these shares are of another key`,
      { kid },
    );
  }
  return { kind: "match" };
}
