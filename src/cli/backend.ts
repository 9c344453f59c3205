import { CODES, CofferError, type ErrorCode } from "../core/errors/index.ts";
import { parseOwner } from "../core/model/index.ts";
import { Secret } from "../core/secret/index.ts";
import {
  LOCAL_CONTEXT,
  parseAnchor,
  type AuditEventView,
  type AuditVerification,
  type GenerateResult,
  type TemplateText,
  type TemplateView,
  type GeneratorOptions,
  type ImportSummary,
  type SecretView,
  type VersionView,
} from "../core/service/index.ts";
import type { ExportedBundle, ExportRequest, ImportRequest } from "./transfer.ts";
import type { Io } from "./io.ts";
import { withCore, type GlobalOptions } from "./local-core.ts";
import { str } from "./commands/args.ts";

export type Ref = { readonly owner: string; readonly key: string };
export type TemplateRef = { readonly owner: string; readonly name: string };
export type AuditFilter = {
  readonly owner: string | null;
  readonly action: string | null;
  readonly afterSeq: number;
  readonly limit: number;
  /** "desc": newest first. */
  readonly order: "asc" | "desc";
  readonly actor: string | null;
  readonly since: Date | null;
  readonly until: Date | null;
};

/**
 * What the `secrets`, `run` and `audit` commands need, in two implementations: local mode (the
 * store and keys opened in this process) and remote mode (a Coffer server through the SDK).
 * The commands print the same output and exit with the same statuses either way.
 */
export interface Backend {
  readonly mode: "local" | "remote";
  set(
    input: Ref & { readonly value: Secret; readonly meta?: Readonly<Record<string, string>>; readonly expectedVersion?: number },
  ): Promise<SecretView>;
  get(ref: Ref & { readonly version?: number }): Promise<SecretView>;
  reveal(ref: Ref & { readonly reason: string; readonly version?: number }): Promise<{ readonly view: SecretView; readonly value: Secret }>;
  unset(ref: Ref & { readonly expectedVersion?: number }): Promise<SecretView>;
  listAll(q: { readonly owner?: string; readonly prefix?: string; readonly includeDeleted: boolean }): Promise<readonly SecretView[]>;
  history(ref: Ref): Promise<readonly VersionView[]>;
  rotate(ref: Ref): Promise<SecretView>;
  /** A generated value written as a new version (never returned); `ifMissing` keeps an existing secret. */
  generate(
    input: Ref & GeneratorOptions & { readonly ifMissing: boolean; readonly meta?: Readonly<Record<string, string>> },
  ): Promise<GenerateResult>;
  /** A fresh value made with the secret's kept generation policy. */
  regenerate(ref: Ref): Promise<SecretView>;
  /** Stored templates (`coffer template …`, `coffer render --stored`). */
  templates: {
    put(t: TemplateRef & { readonly text: string }): Promise<TemplateView>;
    get(t: TemplateRef): Promise<TemplateText>;
    list(owner: string): Promise<readonly TemplateView[]>;
    delete(t: TemplateRef): Promise<void>;
    render(t: TemplateRef & { readonly reason?: string; readonly format?: string }): Promise<Uint8Array>;
  };
  /** Every current value of an owner, for `run`; `null`: a value the server cannot send as text (not UTF-8). */
  revealAll(q: { readonly owner: string; readonly prefix?: string; readonly reason: string }): Promise<ReadonlyMap<string, Secret | null>>;
  auditList(f: AuditFilter): Promise<readonly AuditEventView[]>;
  /** `anchor`: `<seq>:<mac>` as recorded outside the database, or null. */
  auditVerify(anchor: string | null): Promise<AuditVerification>;
  /** One import, all or nothing (`coffer secrets import`). */
  importSecrets(r: ImportRequest): Promise<ImportSummary>;
  /** An owner's secrets as an age bundle (`coffer secrets export --bundle`); audited reveals. */
  exportBundle(r: ExportRequest): Promise<ExportedBundle>;
}

/** `--remote <url>` (given to the command or before it), else `COFFER_ADDR`; null for local mode. */
export function remoteAddress(io: Io, args: Record<string, unknown>): string | null {
  const flag = str(args, "remote");
  const addr = flag ?? (io.env["COFFER_ADDR"] === "" ? undefined : io.env["COFFER_ADDR"]);
  if (addr === undefined) return null;
  if (!/^https?:\/\/[^\s/]+/.test(addr))
    throw new CofferError("INVALID_INPUT", `${flag === undefined ? "COFFER_ADDR" : "--remote"}: must be an http:// or https:// URL`, {
      field: flag === undefined ? "COFFER_ADDR" : "remote",
    });
  return addr;
}

/** Runs `fn` against the backend the arguments and environment choose, and always closes it. */
export async function withBackend<T>(
  io: Io,
  args: Record<string, unknown>,
  opts: GlobalOptions,
  fn: (b: Backend) => Promise<T>,
): Promise<T> {
  const addr = remoteAddress(io, args);
  if (addr === null) {
    return withCore(io, opts, (core, actor) =>
      fn({
        mode: "local",
        set: (i) => core.secrets.set(actor, LOCAL_CONTEXT, i),
        get: (r) => core.secrets.get(actor, LOCAL_CONTEXT, r),
        reveal: (r) => core.secrets.reveal(actor, LOCAL_CONTEXT, r),
        unset: (r) => core.secrets.unset(actor, LOCAL_CONTEXT, r),
        listAll: async (q) => {
          const all: SecretView[] = [];
          let cursor: number | null = 0;
          while (cursor !== null) {
            const page: { items: readonly SecretView[]; nextCursor: number | null } = await core.secrets.list(actor, LOCAL_CONTEXT, {
              ...q,
              cursor,
            });
            all.push(...page.items);
            cursor = page.nextCursor;
          }
          return all;
        },
        history: (r) => core.secrets.history(actor, LOCAL_CONTEXT, r),
        rotate: (r) => core.secrets.rotate(actor, LOCAL_CONTEXT, r),
        generate: (i) => core.generator.generate(actor, LOCAL_CONTEXT, i),
        regenerate: (r) => core.generator.regenerate(actor, LOCAL_CONTEXT, r),
        templates: {
          put: (t) => core.templates.put(actor, LOCAL_CONTEXT, t),
          get: (t) => core.templates.get(actor, LOCAL_CONTEXT, t),
          list: (owner) => core.templates.list(actor, LOCAL_CONTEXT, { owner }),
          delete: (t) => core.templates.delete(actor, LOCAL_CONTEXT, t),
          render: async (t) => (await core.templates.render(actor, LOCAL_CONTEXT, t)).bytes,
        },
        revealAll: (q) => core.secrets.revealAll(actor, LOCAL_CONTEXT, q),
        auditList: async (f) =>
          (await core.audit.list(actor, LOCAL_CONTEXT, { ...f, owner: f.owner === null ? null : parseOwner(f.owner) })).events,
        auditVerify: (anchor) => core.audit.verify(actor, LOCAL_CONTEXT, { anchor: anchor === null ? null : parseAnchor(anchor) }),
        // Lazy: only these two need the age and YAML code.
        importSecrets: async (r) => (await import("./transfer.ts")).importLocal(core, actor, r),
        exportBundle: async (r) => (await import("./transfer.ts")).exportLocal(core, actor, r),
      }),
    );
  }
  const token = io.env["COFFER_TOKEN"];
  if (token === undefined || token === "")
    throw new CofferError("UNAUTHENTICATED", "remote mode needs a token: set COFFER_TOKEN (create one with: coffer token create)");
  const { remoteBackend } = await import("./remote-backend.ts");
  return fn(remoteBackend(addr, token, io.env["COFFER_REAUTH"]));
}

/** An SDK error as the CofferError local mode would have thrown: same code, same exit status. */
export function fromApiError(e: unknown): unknown {
  if (typeof e !== "object" || e === null || (e as { name?: unknown }).name !== "CofferApiError") return e;
  const { code, message } = e as { code: string; message: string };
  const known = (CODES as readonly string[]).includes(code) ? (code as ErrorCode) : "SERVER_UNAVAILABLE";
  return new CofferError(known, message);
}
