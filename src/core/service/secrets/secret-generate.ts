import { systemEffects, type Effects } from "../../crypto/index.ts";
import { CofferError, invalidInput, isCofferError } from "../../errors/index.ts";
import { parseWith, lazySchema } from "../../model/index.ts";
import { Secret } from "../../secret/index.ts";
import type { Actor, RequestContext } from "../access/actor.ts";
import type { RefInput } from "./secret-inputs.ts";
import type { SecretView } from "./secret-views.ts";
import type { Idempotency, SecretsService } from "./secrets-service.ts";

/** Character sets for generated values; `custom:<chars>` names its own. */
export const GENERATOR_CHARSETS = ["alnum", "alnum-symbols", "hex", "base64url", "digits"] as const;
export const GENERATOR_ENCODINGS = ["hex", "base64", "base64url"] as const;

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const CHARSETS: Readonly<Record<(typeof GENERATOR_CHARSETS)[number], string>> = {
  alnum: ALNUM,
  // Every printable ASCII punctuation character: rendered templates escape each of them.
  "alnum-symbols": `${ALNUM}!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`,
  hex: "0123456789abcdef",
  base64url: `${ALNUM}-_`,
  digits: "0123456789",
};

/** The metadata tag that keeps a generated secret's policy, so `rotate --regenerate` can reuse it. */
export const GENERATOR_META_KEY = "coffer.generator";
export const MAX_GENERATED_LENGTH = 1024;
const MAX_CUSTOM_CHARS = 94;

/** How a value is generated: characters drawn uniformly from a set, or random bytes encoded. */
export type GeneratorPolicy =
  | { readonly kind: "chars"; readonly charset: string; readonly length: number }
  | { readonly kind: "bytes"; readonly bytes: number; readonly encoding: (typeof GENERATOR_ENCODINGS)[number] };

/** What a caller may ask for; everything optional (default: 32 `alnum` characters). */
export type GeneratorOptions = {
  readonly length?: number;
  readonly charset?: string;
  readonly bytes?: number;
  readonly encoding?: string;
};

const Count = lazySchema((z) =>
  z
    .int("must be a whole number")
    .check(z.minimum(1, "must be at least 1"), z.maximum(MAX_GENERATED_LENGTH, `must be at most ${String(MAX_GENERATED_LENGTH)}`)),
);

function charsOf(charset: string): string {
  if (charset.startsWith("custom:")) {
    const chars = Array.from(charset.slice("custom:".length));
    if (chars.length < 2) throw invalidInput("charset", "custom: needs at least 2 distinct characters, e.g. custom:abc123");
    if (chars.length > MAX_CUSTOM_CHARS) throw invalidInput("charset", `custom: must have at most ${String(MAX_CUSTOM_CHARS)} characters`);
    if (new Set(chars).size !== chars.length) throw invalidInput("charset", "custom: must not repeat a character (it would bias the draw)");
    // eslint-disable-next-line no-control-regex
    if (chars.some((c) => /[\u0000-\u0020\u007f-\u009f]/.test(c)))
      throw invalidInput("charset", "custom: must not contain spaces or control characters");
    return chars.join("");
  }
  const known = CHARSETS[charset as (typeof GENERATOR_CHARSETS)[number]] as string | undefined;
  if (known === undefined) throw invalidInput("charset", `must be one of ${GENERATOR_CHARSETS.join(", ")} or custom:<chars>`);
  return known;
}

/**
 * Validates generator options into a policy.
 * @throws CofferError INVALID_INPUT naming the option (length, charset, bytes, encoding).
 */
export function parseGeneratorPolicy(o: GeneratorOptions): GeneratorPolicy {
  if (o.bytes !== undefined || o.encoding !== undefined) {
    if (o.charset !== undefined) throw invalidInput("bytes", "cannot be combined with charset: give either --bytes or --charset");
    if (o.length !== undefined) throw invalidInput("bytes", "cannot be combined with length: give either --bytes or --length");
    if (o.bytes === undefined) throw invalidInput("bytes", "is required with encoding");
    const bytes = parseWith(Count, o.bytes, "bytes");
    const encoding = o.encoding ?? "base64url";
    if (!(GENERATOR_ENCODINGS as readonly string[]).includes(encoding))
      throw invalidInput("encoding", `must be one of ${GENERATOR_ENCODINGS.join(", ")}`);
    return { kind: "bytes", bytes, encoding: encoding as (typeof GENERATOR_ENCODINGS)[number] };
  }
  const charset = o.charset ?? "alnum";
  charsOf(charset);
  return { kind: "chars", charset, length: parseWith(Count, o.length ?? 32, "length") };
}

/**
 * A fresh value from the CSPRNG. Characters are drawn by rejection sampling: a random byte is
 * used only when it falls below the largest multiple of the set's size, so every character is
 * equally likely (no modulo bias).
 */
export function generateValue(policy: GeneratorPolicy, fx: Effects = systemEffects): Secret {
  if (policy.kind === "bytes") {
    const raw = fx.random(policy.bytes);
    const text = Buffer.from(raw).toString(policy.encoding);
    raw.fill(0);
    return Secret.fromString(text);
  }
  const chars = Array.from(charsOf(policy.charset));
  const limit = 256 - (256 % chars.length);
  const out: string[] = [];
  while (out.length < policy.length) {
    const batch = fx.random(policy.length * 2);
    for (const b of batch) {
      if (b < limit && out.length < policy.length) out.push(chars[b % chars.length] ?? "");
    }
    batch.fill(0);
  }
  const value = Secret.fromString(out.join(""));
  out.fill("");
  return value;
}

/** The policy as kept in metadata (canonical JSON). */
export function policyToMeta(p: GeneratorPolicy): string {
  return p.kind === "bytes"
    ? JSON.stringify({ bytes: p.bytes, encoding: p.encoding })
    : JSON.stringify({ charset: p.charset, length: p.length });
}

const StoredPolicy = lazySchema((z) =>
  z.object({
    length: z.optional(z.number()),
    charset: z.optional(z.string()),
    bytes: z.optional(z.number()),
    encoding: z.optional(z.string()),
  }),
);

/** The policy kept with a secret, or null when it was not generated. @throws CofferError INVALID_INPUT when the tag is unreadable. */
export function policyFromMeta(meta: Readonly<Record<string, string>>): GeneratorPolicy | null {
  const text = meta[GENERATOR_META_KEY];
  if (text === undefined) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalidInput(`meta.${GENERATOR_META_KEY}`, "must be the JSON policy Coffer wrote");
  }
  const o = parseWith(StoredPolicy, parsed, `meta.${GENERATOR_META_KEY}`);
  return parseGeneratorPolicy({
    ...(o.length === undefined ? {} : { length: o.length }),
    ...(o.charset === undefined ? {} : { charset: o.charset }),
    ...(o.bytes === undefined ? {} : { bytes: o.bytes }),
    ...(o.encoding === undefined ? {} : { encoding: o.encoding }),
  });
}

export type GenerateInput = RefInput &
  GeneratorOptions & {
    /** Create only when the secret does not exist (or is deleted); otherwise leave it as it is. */
    readonly ifMissing?: boolean;
    readonly meta?: Readonly<Record<string, string>>;
  };
export type GenerateResult = { readonly view: SecretView; readonly created: boolean };

/**
 * Generated secrets: a random value written as a new version, with its policy kept in the
 * secret's metadata (`coffer.generator`). Writes go through `SecretsService.set`, so scopes,
 * rate limits, audit and check-and-set are the same as for any write; the value is never returned.
 */
export class SecretGenerator {
  readonly #secrets: SecretsService;
  readonly #fx: Effects;

  constructor(secrets: SecretsService, fx: Effects = systemEffects) {
    this.#secrets = secrets;
    this.#fx = fx;
  }

  /**
   * Generates and stores a value. With `ifMissing`, concurrent callers end with exactly one
   * version: the write is a check-and-set on "does not exist", and the losers get the winner's view.
   * @throws CofferError INVALID_INPUT naming the option, SCOPE_DENIED, RATE_LIMITED.
   */
  async generate(
    actor: Actor,
    ctx: RequestContext,
    input: GenerateInput,
    idem?: Idempotency,
  ): Promise<GenerateResult & { readonly replayed: boolean }> {
    const policy = parseGeneratorPolicy(input);
    const meta = { ...(input.meta ?? {}), [GENERATOR_META_KEY]: policyToMeta(policy) };
    const value = generateValue(policy, this.#fx);
    const ref = { owner: input.owner, key: input.key };
    const set = { ...ref, value, meta, ...(input.ifMissing === true ? { expectedVersion: 0 } : {}) };
    try {
      if (idem !== undefined) {
        const request = ["generate", policyToMeta(policy), JSON.stringify(input.meta ?? {}), input.ifMissing === true ? 1 : 0];
        const r = await this.#secrets.setIdempotent(actor, ctx, set, idem, request);
        return { view: r.view, created: !r.replayed, replayed: r.replayed };
      }
      const view = await this.#secrets.set(actor, ctx, set);
      return { view, created: true, replayed: false };
    } catch (e) {
      if (input.ifMissing !== true || !isCofferError(e) || e.code !== "CONFLICT") throw e;
      return { view: await this.#secrets.get(actor, ctx, ref), created: false, replayed: false };
    } finally {
      value.wipe();
    }
  }

  /**
   * A fresh value with the policy kept in the secret (`coffer secrets rotate --regenerate`),
   * written only if the secret is still at the version that was read.
   * @throws CofferError INVALID_INPUT when the secret was not generated, NOT_FOUND, CONFLICT.
   */
  async regenerate(actor: Actor, ctx: RequestContext, input: RefInput): Promise<SecretView> {
    const current = await this.#secrets.get(actor, ctx, input);
    const policy = policyFromMeta(current.meta);
    if (policy === null)
      throw new CofferError(
        "INVALID_INPUT",
        `${current.key}: was not generated (no ${GENERATOR_META_KEY} policy); set a value, or generate it once with coffer secrets generate`,
        { field: "regenerate" },
      );
    const value = generateValue(policy, this.#fx);
    try {
      return await this.#secrets.set(actor, ctx, { owner: input.owner, key: input.key, value, expectedVersion: current.version });
    } finally {
      value.wipe();
    }
  }
}
