import { decodeBase64Strict, encodeBase64 } from "../crypto/index.ts";
import { CofferError, type ErrorCode } from "../errors/index.ts";
import type { Kid } from "../model/index.ts";
import type { Secret } from "../secret/index.ts";
import type { KeyServiceClient } from "./remote-kek.ts";
import type { ServiceCallSettings, VaultTransitRef } from "./key-service-settings.ts";

/** Transit ciphertexts: `vault:v<key version>:<base64>` (OpenBao writes the same prefix). */
const TRANSIT_CIPHERTEXT = /^vault:v[1-9][0-9]{0,9}:[A-Za-z0-9+/]+={0,2}$/;

type Failure = { readonly code: ErrorCode; readonly what: string; readonly retry: boolean };

/**
 * Classifies a Transit answer by HTTP status (and, for 400, by a few fixed phrases). The
 * server's error text is never copied into Coffer's message: a misbehaving proxy could echo
 * the request, and the request carries the key being wrapped.
 */
function classify(status: number, errors: readonly string[]): Failure {
  const text = errors.join(" ").toLowerCase();
  if (status === 403) return { code: "KEY_ACCESS_DENIED", what: "permission denied (token or policy)", retry: false };
  if (status === 404) return { code: "KEY_NOT_FOUND", what: "no such Transit mount", retry: false };
  if (status === 429) return { code: "KEY_THROTTLED", what: "rate limited by Vault", retry: true };
  if (status === 400 && text.includes("not found")) return { code: "KEY_NOT_FOUND", what: "no such Transit key", retry: false };
  if (status === 400 && (text.includes("authentication failed") || text.includes("invalid ciphertext")))
    return { code: "DECRYPT_FAILED", what: "the ciphertext does not authenticate under this key and associated data", retry: false };
  if (status === 400 && text.includes("associated data"))
    return { code: "KEY_INVALID", what: "the Transit key type does not take associated data (use aes256-gcm96)", retry: false };
  if (status >= 500 && status !== 501) return { code: "KEY_UNAVAILABLE", what: `Vault answered ${String(status)}`, retry: true };
  return { code: "KEY_UNAVAILABLE", what: `Vault answered ${String(status)}`, retry: false };
}

/**
 * Vault / OpenBao Transit over its HTTP API with `fetch`: `POST /v1/<mount>/encrypt/<key>`
 * with `plaintext` and `associated_data` (base64 of the wrap AAD; Transit binds it only for
 * AEAD key types: aes128-gcm96, aes256-gcm96, chacha20-poly1305), `POST …/decrypt/<key>` with
 * the `vault:vN:…` ciphertext and the same `associated_data`; `X-Vault-Token` header. 429 and
 * 5xx are retried with exponential backoff and jitter up to `maxAttempts`; every attempt has
 * a timeout (`AbortSignal.timeout`).
 */
export class VaultTransitClient implements KeyServiceClient {
  readonly service = "vault-transit";
  readonly keyRef: string;
  readonly #kid: Kid;
  readonly #ref: VaultTransitRef;
  readonly #token: Secret;
  readonly #namespace: string | null;
  readonly #calls: ServiceCallSettings;

  constructor(
    kid: Kid,
    ref: VaultTransitRef,
    opts: { readonly token: Secret; readonly namespace: string | null; readonly calls: ServiceCallSettings },
  ) {
    this.#kid = kid;
    this.#ref = ref;
    this.keyRef = `${ref.mount}/${ref.keyName}${ref.version === undefined || ref.version === null ? "" : `@v${String(ref.version)}`}`;
    this.#token = opts.token;
    this.#namespace = opts.namespace;
    this.#calls = opts.calls;
  }

  async encrypt(plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const version = this.#ref.version ?? null;
    const data = await this.#call("encrypt", {
      plaintext: encodeBase64(plaintext),
      associated_data: encodeBase64(aad),
      ...(version === null ? {} : { key_version: version }),
    });
    const ct = data["ciphertext"];
    if (typeof ct !== "string" || !TRANSIT_CIPHERTEXT.test(ct)) throw this.#malformed("encrypt");
    return new TextEncoder().encode(ct);
  }

  async decrypt(ciphertext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(ciphertext);
    if (!TRANSIT_CIPHERTEXT.test(text)) {
      throw new CofferError("CIPHERTEXT_MALFORMED", `wrapped key for kid '${this.#kid}' is not a Transit ciphertext`, { kid: this.#kid });
    }
    const data = await this.#call("decrypt", { ciphertext: text, associated_data: encodeBase64(aad) });
    const pt = typeof data["plaintext"] === "string" ? decodeBase64Strict(data["plaintext"]) : null;
    if (pt === null) throw this.#malformed("decrypt");
    return pt;
  }

  /**
   * Transit's `POST /v1/<mount>/keys/<name>/rotate`: a new key version, which new encryptions
   * use; old versions still decrypt. Returns the new latest version (from the answer, or a
   * `GET /v1/<mount>/keys/<name>` where Vault answers 204). Needs `update` on
   * `<mount>/keys/<name>/rotate` and `read` on `<mount>/keys/<name>`.
   */
  async rotateKey(): Promise<number> {
    const rotated = await this.#call("rotate", {}, "POST", `keys/${encodeURIComponent(this.#ref.keyName)}/rotate`);
    const data =
      typeof rotated["latest_version"] === "number"
        ? rotated
        : await this.#call("read key", null, "GET", `keys/${encodeURIComponent(this.#ref.keyName)}`);
    const v = data["latest_version"];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) throw this.#malformed("rotate");
    return v;
  }

  close(): void {
    // fetch keeps no handle Coffer owns.
  }

  async #call(
    op: string,
    body: Readonly<Record<string, string | number>> | null,
    method: "GET" | "POST" = "POST",
    path = `${op}/${encodeURIComponent(this.#ref.keyName)}`,
  ): Promise<Readonly<Record<string, unknown>>> {
    const mount = this.#ref.mount.split("/").map(encodeURIComponent).join("/");
    const url = `${this.#ref.address.replace(/\/+$/, "")}/v1/${mount}/${path}`;
    const headers: Record<string, string> = { "X-Vault-Token": this.#token.revealText(), "Content-Type": "application/json" };
    if (this.#namespace !== null) headers["X-Vault-Namespace"] = this.#namespace;
    const payload = body === null ? undefined : JSON.stringify(body);
    let last: Failure = { code: "KEY_UNAVAILABLE", what: "not tried", retry: false };
    let attempt = 0;
    while (attempt < this.#calls.maxAttempts) {
      if (attempt > 0) await backoff(attempt);
      attempt += 1;
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers,
          ...(payload === undefined ? {} : { body: payload }),
          signal: AbortSignal.timeout(this.#calls.timeoutMs),
        });
      } catch (e) {
        const name = (e as { name?: unknown }).name;
        last = { code: "KEY_UNAVAILABLE", what: name === "TimeoutError" ? "timed out" : "cannot connect", retry: true };
        continue;
      }
      const json = await readJson(res);
      if (res.status === 204) return {};
      if (res.ok) {
        const data = (json as { data?: unknown } | null)?.data;
        if (typeof data === "object" && data !== null) return data as Record<string, unknown>;
        throw this.#malformed(op);
      }
      const errors = (json as { errors?: unknown } | null)?.errors;
      last = classify(res.status, Array.isArray(errors) ? errors.filter((x): x is string => typeof x === "string") : []);
      if (!last.retry) break;
    }
    throw new CofferError(
      last.code,
      `Vault Transit ${op} for kid '${this.#kid}' (key ${this.keyRef} at ${this.#ref.address}) failed after ${String(attempt)} attempt(s): ${last.what}`,
      { kid: this.#kid, provider: "vault-transit", operation: op },
    );
  }

  #malformed(op: string): CofferError {
    return new CofferError("CIPHERTEXT_MALFORMED", `Vault Transit ${op} for kid '${this.#kid}' returned no usable data`, {
      kid: this.#kid,
    });
  }
}

async function readJson(res: Response): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    return null;
  }
}

/** Full jitter over 100 ms · 2^(attempt-1), capped at 2 s. */
function backoff(attempt: number): Promise<void> {
  const capMs = Math.min(2000, 100 * 2 ** (attempt - 1));
  return new Promise((r) => setTimeout(r, Math.random() * capMs));
}
