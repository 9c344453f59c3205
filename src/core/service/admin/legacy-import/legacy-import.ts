import { readFileSync } from "node:fs";
import { constantTimeEqual, openPortable, parseKeyBase64, parsePortable, systemEffects } from "../../../crypto/index.ts";
import type { AesKey, Effects, Portable } from "../../../crypto/index.ts";
import { CofferError, isCofferError } from "../../../errors/index.ts";
import { assertPrivateFile, LocalKek, loadKeyring, type Keyring } from "../../../keys/index.ts";
import { formatOwner, parseKeyName, parseOwner, type KeyName, type Owner } from "../../../model/index.ts";
import { Secret } from "../../../secret/index.ts";
import type { Executor, OwnerScope, Store } from "../../../store/index.ts";
import { actorLabel, type Actor, type RequestContext } from "../../access/actor.ts";
import type { AuditInput, AuditLog } from "../../audit/audit-log.ts";
import type { KeyManager, ScopeKey } from "../../scope-keys/key-manager.ts";
import { openColumns, type SealedColumns } from "../../secrets/sealing.ts";
import { checkValueSize } from "../../secrets/secret-inputs.ts";
import { SecretStateMac } from "../../secrets/secret-state.ts";
import { badRow, csvRows, jsonRows, withLine, type RawRow } from "./legacy-listing.ts";
import { AccessGate } from "../../access/gate.ts";
import { appendVersion, lockOrCreate } from "../../secrets/secret-write.ts";

export const LEGACY_FORMATS = ["csv", "json"] as const;
export type LegacyFormat = (typeof LEGACY_FORMATS)[number];

export type LegacyImportInput = {
  /** The listing: CSV with the header `owner,key,value`, or a JSON array of `{ owner, key, value }`. */
  readonly text: string;
  readonly format: LegacyFormat;
  /** The legacy master key file (base64, 32 bytes, private), for `v1:` values. */
  readonly keyFile?: string | undefined;
  /** The legacy keyring file (`{ "active", "keys" }`), for `v2:<kid>:` values. */
  readonly keyringFile?: string | undefined;
  /** Decrypt, re-encrypt, verify and write inside the transaction, then roll it back. */
  readonly dryRun: boolean;
};

/** One imported secret: where it came from (line, legacy format, kid) and the version written. */
export type ImportedSecret = {
  readonly line: number;
  readonly owner: string;
  readonly key: string;
  /** The version written; `existed`: the secret was live before, and this is a new version of it. */
  readonly version: number;
  readonly existed: boolean;
  readonly legacy: "v1" | "v2";
  readonly kid: string | null;
};

/** Counts (`existing`: new versions of live secrets; `v2ByKid`: by legacy kid) and every secret imported. */
export type LegacyImportSummary = {
  readonly dryRun: boolean;
  readonly imported: number;
  readonly owners: number;
  readonly existing: number;
  readonly v1: number;
  readonly v2ByKid: Readonly<Record<string, number>>;
  readonly secrets: readonly ImportedSecret[];
};

type ParsedRow = { readonly line: number; readonly owner: Owner; readonly name: KeyName; readonly portable: Portable };
type OpenRow = ParsedRow & { readonly value: Secret };
type LegacyKeys = { readonly master: AesKey | null; readonly keyring: Keyring | null };
type Written = { readonly row: OpenRow; readonly version: number; readonly existed: boolean };

const REASON = "legacy import";
const NO_TARGET = { owner: null, key: null, version: null } as const;
// One transaction across owners, so the import is all or nothing; on PostgreSQL this is the
// explicit administrative scope, named for the audit trail.
const IMPORT_SCOPE: OwnerScope = Object.freeze({ kind: "all", why: REASON });

function parseRow(r: RawRow): ParsedRow {
  try {
    return { line: r.line, owner: parseOwner(r.owner), name: parseKeyName(r.key), portable: parsePortable(r.value) };
  } catch (e) {
    throw withLine(r.line, e);
  }
}

function checkDuplicates(rows: readonly ParsedRow[]): void {
  const seen = new Map<string, number>();
  for (const r of rows) {
    const id = `${formatOwner(r.owner)}\u0000${r.name}`;
    const first = seen.get(id);
    if (first !== undefined) {
      throw badRow(r.line, `${formatOwner(r.owner)} ${r.name} is also on line ${String(first)}; each secret may be listed once`);
    }
    seen.set(id, r.line);
  }
}

/** Reads the legacy master key as strictly as Coffer's own: private file, canonical base64, 32 bytes. */
function readLegacyKeyFile(path: string): AesKey {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    throw new CofferError(code === "ENOENT" ? "KEY_NOT_FOUND" : "KEY_INVALID", `cannot read legacy key file ${path} (${code})`, { path });
  }
  assertPrivateFile(path, "legacy key file");
  return parseKeyBase64(text, `legacy key file ${path}`);
}

function loadLegacyKeys(input: LegacyImportInput): LegacyKeys {
  if (input.keyFile === undefined && input.keyringFile === undefined) {
    throw new CofferError("KEY_NOT_FOUND", "a legacy import needs the legacy master key file, the legacy keyring file, or both");
  }
  return {
    master: input.keyFile === undefined ? null : readLegacyKeyFile(input.keyFile),
    keyring: input.keyringFile === undefined ? null : loadKeyring({ provider: "keyring", path: input.keyringFile }, { allowCreate: false }),
  };
}

/** @throws CofferError KEY_NOT_FOUND when the key the value names was not given. */
function legacyKeyFor(keys: LegacyKeys, p: Portable): AesKey {
  if (p.kid === null) {
    if (keys.master === null) throw new CofferError("KEY_NOT_FOUND", "a v1 value needs the legacy master key file");
    return keys.master;
  }
  if (keys.keyring === null)
    throw new CofferError("KEY_NOT_FOUND", `a v2 value (kid '${p.kid}') needs the legacy keyring file`, { kid: p.kid });
  const known = keys.keyring.describe().map((k) => String(k.kid));
  if (!known.includes(p.kid)) {
    throw new CofferError("KEY_NOT_FOUND", `kid '${p.kid}' is not in the legacy keyring (known: ${known.join(", ")})`, { kid: p.kid });
  }
  const kek = keys.keyring.get(p.kid);
  if (!(kek instanceof LocalKek)) throw new CofferError("KEY_INVALID", `legacy kid '${p.kid}' does not release its key`, { kid: p.kid });
  return kek.exportKey();
}

function openRow(keys: LegacyKeys, r: ParsedRow): OpenRow {
  try {
    const value = Secret.adopt(openPortable(legacyKeyFor(keys, r.portable), r.portable));
    try {
      checkValueSize(value);
    } catch (e) {
      value.wipe();
      throw e;
    }
    return { ...r, value };
  } catch (e) {
    throw withLine(r.line, e);
  }
}

/** Opens what was just sealed and compares it, in constant time, with the legacy plaintext. */
function verifyRoundTrip(scope: ScopeKey, sealed: SealedColumns, place: Omit<Place, "scopeKeyId">, value: Secret): void {
  const back = openColumns(scope.key, sealed, place);
  const [a, b] = [back.reveal(), value.reveal()];
  try {
    if (!constantTimeEqual(a, b)) throw new CofferError("DECRYPT_FAILED", "the re-encrypted value does not decrypt to the legacy value");
  } finally {
    a.fill(0);
    b.fill(0);
    back.wipe();
  }
}

type Place = { readonly owner: Owner; readonly name: KeyName; readonly version: number; readonly scopeKeyId: string };

function summarize(done: readonly Written[], dryRun: boolean): LegacyImportSummary {
  const byKid = new Map<string, number>();
  for (const w of done) if (w.row.portable.kid !== null) byKid.set(w.row.portable.kid, (byKid.get(w.row.portable.kid) ?? 0) + 1);
  const secrets = done.map(({ row: r, version, existed }): ImportedSecret => {
    const source = { legacy: r.portable.kid === null ? "v1" : "v2", kid: r.portable.kid } as const;
    return { line: r.line, owner: formatOwner(r.owner), key: r.name, version, existed, ...source };
  });
  const counts = {
    imported: done.length,
    owners: new Set(secrets.map((s) => s.owner)).size,
    existing: secrets.filter((s) => s.existed).length,
  };
  const v2ByKid = Object.fromEntries([...byKid].sort(([a], [b]) => a.localeCompare(b)));
  return { dryRun, ...counts, v1: secrets.filter((s) => s.kid === null).length, v2ByKid, secrets };
}

/** Carries a dry run's summary out of the transaction it rolls back. */
class DryRunRollback extends Error {
  readonly summary: LegacyImportSummary;
  constructor(summary: LegacyImportSummary) {
    super("dry run: rolled back");
    this.summary = summary;
  }
}

/**
 * Imports secrets from a system that stored them as portable `v1:`/`v2:` strings: every line
 * is parsed, then every value decrypted with the legacy key, then everything re-encrypted
 * under the owners' scope keys, verified by a round trip and written in ONE transaction with
 * one `secret.import` audit event per secret. Any failure writes nothing (scope keys for new
 * owners excepted: they hold no data) and names the listing line.
 */
export class LegacyImport {
  readonly #store: Store;
  readonly #keys: KeyManager;
  readonly #audit: AuditLog;
  readonly #gate: AccessGate;
  readonly #fx: Effects;
  readonly #state: SecretStateMac;

  constructor(core: { readonly store: Store; readonly keys: KeyManager; readonly audit: AuditLog }, fx: Effects = systemEffects) {
    this.#store = core.store;
    this.#keys = core.keys;
    this.#state = new SecretStateMac(core.keys);
    this.#audit = core.audit;
    this.#fx = fx;
    this.#gate = new AccessGate(core.audit);
  }

  /**
   * @throws CofferError INVALID_INPUT (listing, owner, key, duplicate), CIPHERTEXT_MALFORMED,
   * KEY_NOT_FOUND, KEY_INVALID, DECRYPT_FAILED, AUDIT_FAILED; line errors start with `line N:`.
   */
  async run(actor: Actor, ctx: RequestContext, input: LegacyImportInput): Promise<LegacyImportSummary> {
    await this.#gate.admin(actor, ctx, "secret.import", { reason: REASON });
    const rows = (input.format === "csv" ? csvRows(input.text) : jsonRows(input.text)).map(parseRow);
    if (rows.length === 0) throw new CofferError("INVALID_INPUT", "the legacy file lists no secrets", { field: "legacy" });
    checkDuplicates(rows);
    const keys = loadLegacyKeys(input);
    const opened: OpenRow[] = [];
    try {
      for (const r of rows) opened.push(openRow(keys, r));
      const scopes = new Map<string, ScopeKey>();
      for (const r of opened) {
        if (!scopes.has(formatOwner(r.owner))) scopes.set(formatOwner(r.owner), await this.#keys.activeScopeKey(r.owner));
      }
      return await this.#write(actor, ctx, { rows: opened, scopes, dryRun: input.dryRun });
    } catch (e) {
      if (!input.dryRun && !(isCofferError(e) && e.code === "AUDIT_FAILED")) await this.#auditFailure(actor, ctx, e);
      throw e;
    } finally {
      for (const r of opened) r.value.wipe();
    }
  }

  async #write(
    actor: Actor,
    ctx: RequestContext,
    job: { readonly rows: readonly OpenRow[]; readonly scopes: ReadonlyMap<string, ScopeKey>; readonly dryRun: boolean },
  ): Promise<LegacyImportSummary> {
    try {
      return await this.#store.transaction(IMPORT_SCOPE, async (tx) => {
        const done: Written[] = [];
        for (const row of job.rows) {
          const scope = job.scopes.get(formatOwner(row.owner));
          if (scope === undefined) throw new CofferError("INTERNAL", "no scope key was prepared for an imported owner");
          done.push(await this.#writeRow(tx, { row, scope, by: actorLabel(actor) }));
        }
        await this.#audit.appendAll(tx, actor, ctx, done.map(importEvent));
        const summary = summarize(done, job.dryRun);
        if (job.dryRun) throw new DryRunRollback(summary);
        return summary;
      });
    } catch (e) {
      if (e instanceof DryRunRollback) return e.summary;
      throw e;
    }
  }

  /** Set semantics: a new version, after the current one (or version 1 for a new secret). */
  async #writeRow(tx: Executor, w: { readonly row: OpenRow; readonly scope: ScopeKey; readonly by: string }): Promise<Written> {
    const { row: r, scope } = w;
    try {
      const now = this.#fx.now().toISOString();
      const row = await lockOrCreate(tx, r.owner, r.name, now);
      const existed = row.current_version > 0 && row.deleted_at === null;
      const written = await appendVersion(tx, row, {
        ...{ owner: r.owner, name: r.name, value: r.value, meta: null },
        ...{ scope, by: w.by, now, fx: this.#fx, state: this.#state },
        verify: (sealed, place) => {
          verifyRoundTrip(scope, sealed, place, r.value);
        },
      });
      return { row: r, version: written.current_version, existed };
    } catch (e) {
      throw withLine(r.line, e);
    }
  }

  async #auditFailure(actor: Actor, ctx: RequestContext, e: unknown): Promise<void> {
    const line = isCofferError(e) && typeof e.details["line"] === "number" ? { line: e.details["line"] } : {};
    const details = { code: isCofferError(e) ? e.code : "INTERNAL", ...line };
    await this.#audit.appendNow(actor, ctx, { ...NO_TARGET, action: "secret.import", outcome: "error", reason: REASON, details });
  }
}

function importEvent(w: Written): AuditInput {
  const source = w.row.portable.kid === null ? { legacy: "v1" } : { legacy: "v2", kid: w.row.portable.kid };
  const target = { owner: w.row.owner, key: w.row.name, version: w.version };
  return { ...target, action: "secret.import", outcome: "success", reason: REASON, details: { ...source, line: w.row.line } };
}
