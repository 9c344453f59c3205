import { hostname } from "node:os";
import { CofferError, type ErrorCode } from "../core/errors/index.ts";
import { keyLabel, type KeyRef, type MasterKey } from "./metadata.ts";

/**
 * Wrapping a SOPS data key for a cloud master key and unwrapping it, exactly as sops 3.13 does,
 * so either tool opens the other's stanzas:
 *
 * - AWS KMS (`kms`): `Encrypt`/`Decrypt` with the stanza's encryption context, the region taken
 *   from the ARN; `enc` is the ciphertext blob in standard base64. With a `role`, the role is
 *   assumed first (STS `AssumeRole`, session `sops@<host>` as sops names it). Credentials and
 *   endpoints come from the SDK's usual sources (`AWS_ACCESS_KEY_ID`…, `AWS_PROFILE` or the
 *   stanza's `aws_profile`, `AWS_ENDPOINT_URL_KMS`/`AWS_ENDPOINT_URL_STS`/`AWS_ENDPOINT_URL`).
 * - Vault Transit (`hc_vault`): `POST <vault_address>/v1/<engine_path>/encrypt/<key_name>` with
 *   the data key in base64 and no associated data; `enc` is the `vault:vN:…` ciphertext. The
 *   token is `VAULT_TOKEN`, else `~/.vault-token`; `VAULT_NAMESPACE` is sent when set.
 * - GCP KMS (`gcp_kms`): `Encrypt`/`Decrypt` on the resource; `enc` is standard base64.
 * - Azure Key Vault (`azure_kv`): `encrypt`/`decrypt` with RSA-OAEP-256; `enc` is unpadded
 *   base64url (sops's `RawURLEncoding`).
 *
 * The SDKs are loaded on first use. Errors name the master key and say why, never with key
 * material; the SDKs' own error objects are not attached.
 */
export type KeyServices = {
  /** The wrapped data key (`enc`) for one master key, and the key as recorded (an Azure key gets its current version). */
  wrap(ref: KeyRef, dataKey: Uint8Array): Promise<{ readonly enc: string; readonly ref: KeyRef }>;
  /** The data key (or Shamir share) a stanza holds. */
  unwrap(key: MasterKey): Promise<Uint8Array>;
};

export type Env = Readonly<Record<string, string | undefined>>;
export type KeyServiceOptions = {
  readonly env: Env;
  readonly timeoutMs?: number;
  readonly maxAttempts?: number;
  /** Reads a file as text, `null` when absent (for `~/.vault-token`). */
  readonly readText?: (path: string) => Promise<string | null>;
};

const AWS_ARN = /^arn:aws[\w-]*:kms:([^:]+):[0-9]+:(?:key|alias)\/.+$/;
const ROLE_ARN = /^arn:aws[\w-]*:iam::[0-9]+:role\/.+$/;
const GCP_RESOURCE = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;
const AZURE_URL = /^(https:\/\/[^/]+)\/keys\/([^/]+)(?:\/([^/]*))?$/;

/** A clear refusal naming the field and the master key, for rule, policy and flag input. */
export function checkKeyRef(ref: KeyRef, field: string): KeyRef {
  const fail = (rule: string): never => {
    throw new CofferError("INVALID_INPUT", `${field}: '${keyLabel(ref).slice(0, 200)}' ${rule}`, { field });
  };
  switch (ref.type) {
    case "kms":
      if (!AWS_ARN.test(ref.arn)) fail("is not an AWS KMS key ARN (arn:aws:kms:<region>:<account>:key/<id> or …:alias/<name>)");
      if (ref.role !== "" && !ROLE_ARN.test(ref.role)) fail("has a role that is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)");
      break;
    case "gcp_kms":
      if (!GCP_RESOURCE.test(ref.resourceId))
        fail("is not a GCP KMS key resource name (projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>)");
      break;
    case "azure_kv":
      if (!/^https:\/\/[^/]+$/.test(ref.vaultUrl) || ref.name === "" || ref.name.includes("/"))
        fail("is not an Azure Key Vault key URL (https://<vault>.vault.azure.net/keys/<name>[/<version>])");
      break;
    case "hc_vault":
      if (!/^https?:\/\/[^/]+$/.test(ref.address) || ref.enginePath === "" || ref.keyName === "" || ref.keyName.includes("/"))
        fail("is not a Vault Transit key URI (https://vault.example.com:8200/v1/<engine>/keys/<name>)");
      break;
    case "pgp":
      if (!/^[0-9A-Fa-f]{16,40}$/.test(ref.fingerprint)) fail("is not a PGP fingerprint (16 to 40 hex digits)");
      break;
    default:
      break;
  }
  return ref;
}

/** `arn[+roleArn]` as sops's `--kms` and `.sops.yaml` `kms:` spell it. */
export function kmsRef(spec: string, context: Readonly<Record<string, string>> | null, awsProfile: string): KeyRef {
  const s = spec.replace(/ /g, "");
  const at = s.indexOf("+arn:");
  return at > 0
    ? { type: "kms", arn: s.slice(0, at), role: s.slice(at + 1), context, awsProfile }
    : { type: "kms", arn: s, role: "", context, awsProfile };
}

/** `https://<vault>/keys/<name>[/<version>]` as sops's `--azure-kv` spells it. */
export function azureRef(url: string): KeyRef {
  const m = AZURE_URL.exec(url.trim());
  if (m === null) return { type: "azure_kv", vaultUrl: url.trim(), name: "", version: "" };
  return { type: "azure_kv", vaultUrl: m[1] ?? "", name: m[2] ?? "", version: m[3] ?? "" };
}

/** `https://vault:8200/v1/<engine path>/keys/<name>` as sops's `--hc-vault-transit` spells it. */
export function vaultRef(uri: string): KeyRef {
  let u: URL | null;
  try {
    u = new URL(uri.trim());
  } catch {
    u = null;
  }
  const parts = u === null ? [] : u.pathname.replace(/^\/+|\/+$/g, "").split("/");
  // /v1/<engine…>/keys/<name>: sops takes everything between v1 and the last two segments as the engine path.
  if (u === null || parts.length < 4 || !/^v\d+$/.test(parts[0] ?? "") || parts[parts.length - 2] !== "keys")
    return { type: "hc_vault", address: uri.trim(), enginePath: "", keyName: "" };
  return { type: "hc_vault", address: u.origin, enginePath: parts.slice(1, -2).join("/"), keyName: parts[parts.length - 1] ?? "" };
}

function failure(ref: KeyRef, op: "wrap" | "unwrap", code: ErrorCode, why: string): CofferError {
  const label = keyLabel(ref).slice(0, 240);
  return new CofferError(code, `cannot ${op} the data key with ${label}: ${why}`, { masterKey: label, operation: op });
}

const AWS_CODES: Readonly<Record<string, readonly [ErrorCode, string]>> = {
  ThrottlingException: ["KEY_THROTTLED", "throttled by AWS KMS"],
  AccessDeniedException: ["KEY_ACCESS_DENIED", "access denied by the key policy or IAM"],
  UnrecognizedClientException: ["KEY_ACCESS_DENIED", "AWS does not recognise the access key"],
  InvalidSignatureException: ["KEY_ACCESS_DENIED", "the request signature does not match (wrong secret key?)"],
  ExpiredTokenException: ["KEY_ACCESS_DENIED", "the AWS session token expired"],
  CredentialsProviderError: ["KEY_ACCESS_DENIED", "no AWS credentials found"],
  DisabledException: ["KEY_DISABLED", "the KMS key is disabled"],
  KMSInvalidStateException: ["KEY_DISABLED", "the KMS key is not enabled"],
  NotFoundException: ["KEY_NOT_FOUND", "no such KMS key or alias"],
  InvalidCiphertextException: ["DECRYPT_FAILED", "the ciphertext does not authenticate under this key and encryption context"],
  IncorrectKeyException: ["DECRYPT_FAILED", "the ciphertext was wrapped by another KMS key"],
};

function sdkError(ref: KeyRef, op: "wrap" | "unwrap", e: unknown): CofferError {
  if (e instanceof CofferError) return e;
  const err = (e ?? {}) as { name?: unknown; code?: unknown; statusCode?: unknown };
  const name = typeof err.name === "string" ? err.name : "Error";
  const known = AWS_CODES[name];
  if (known !== undefined) return failure(ref, op, known[0], `${known[1]} (${name})`);
  const status = typeof err.statusCode === "number" ? err.statusCode : typeof err.code === "number" ? err.code : null;
  if (status === 401 || status === 403 || status === 7 || status === 16)
    return failure(ref, op, "KEY_ACCESS_DENIED", `access denied (${name})`);
  if (status === 404 || status === 5) return failure(ref, op, "KEY_NOT_FOUND", `no such key (${name})`);
  if (status === 429 || status === 8) return failure(ref, op, "KEY_THROTTLED", `throttled (${name})`);
  const sys = typeof err.code === "string" ? ` ${err.code}` : "";
  return failure(ref, op, "KEY_UNAVAILABLE", `the key service is unreachable or failing (${name}${sys})`);
}

function decodeStd(ref: KeyRef, enc: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(enc)) throw failure(ref, "unwrap", "CIPHERTEXT_MALFORMED", "the stanza's enc is not base64");
  return Buffer.from(enc, "base64");
}

/** The key services of the environment (the real cloud SDKs and Vault's HTTP API). */
export function keyServices(opts: KeyServiceOptions): KeyServices {
  const env = opts.env;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxAttempts = opts.maxAttempts ?? 3;
  const kmsClients = new Map<string, Promise<import("@aws-sdk/client-kms").KMSClient>>();

  const awsEndpoint = (service: "KMS" | "STS"): string | undefined => env[`AWS_ENDPOINT_URL_${service}`] ?? env["AWS_ENDPOINT_URL"];

  async function kmsClient(ref: Extract<KeyRef, { type: "kms" }>): Promise<import("@aws-sdk/client-kms").KMSClient> {
    const region = AWS_ARN.exec(ref.arn)?.[1];
    if (region === undefined) throw failure(ref, "wrap", "INVALID_INPUT", "the ARN names no region");
    const cacheKey = `${region}\n${ref.role}\n${ref.awsProfile}`;
    let c = kmsClients.get(cacheKey);
    if (c === undefined) {
      c = (async () => {
        const mod = await import("@aws-sdk/client-kms");
        const endpoint = awsEndpoint("KMS");
        const base = {
          region,
          maxAttempts,
          retryMode: "standard",
          requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs, throwOnRequestTimeout: true },
          ...(endpoint === undefined ? {} : { endpoint }),
          ...(ref.awsProfile === "" ? {} : { profile: ref.awsProfile }),
        } as const;
        const plain = new mod.KMSClient(base);
        if (ref.role === "") return plain;
        const sts = await import("@aws-sdk/nested-clients/sts");
        const stsEndpoint = awsEndpoint("STS");
        // The caller's own credentials (the SDK's default chain, as resolved for KMS) sign AssumeRole.
        const stsClient = new sts.STSClient({
          region,
          maxAttempts,
          requestHandler: base.requestHandler,
          credentials: plain.config.credentials,
          ...(stsEndpoint === undefined ? {} : { endpoint: stsEndpoint }),
        });
        plain.destroy();
        try {
          const out = await stsClient.send(
            new sts.AssumeRoleCommand({
              RoleArn: ref.role,
              RoleSessionName: `sops@${hostname().replace(/[^\w+=,.@-]/g, "")}`.slice(0, 64),
            }),
          );
          const cr = out.Credentials;
          if (cr?.AccessKeyId === undefined || cr.SecretAccessKey === undefined)
            throw failure(ref, "wrap", "KEY_ACCESS_DENIED", "STS AssumeRole returned no credentials");
          return new mod.KMSClient({
            ...base,
            credentials: {
              accessKeyId: cr.AccessKeyId,
              secretAccessKey: cr.SecretAccessKey,
              ...(cr.SessionToken === undefined ? {} : { sessionToken: cr.SessionToken }),
            },
          });
        } finally {
          stsClient.destroy();
        }
      })();
      kmsClients.set(cacheKey, c);
    }
    return c;
  }

  async function vaultToken(ref: KeyRef, op: "wrap" | "unwrap"): Promise<string> {
    const t = env["VAULT_TOKEN"]?.trim();
    if (t !== undefined && t !== "") return t;
    const home = env["HOME"];
    const file = home === undefined || opts.readText === undefined ? null : await opts.readText(`${home}/.vault-token`);
    if (file !== null && file.trim() !== "") return file.trim();
    throw failure(ref, op, "KEY_ACCESS_DENIED", "no Vault token (set VAULT_TOKEN or write ~/.vault-token)");
  }

  async function vaultCall(
    ref: Extract<KeyRef, { type: "hc_vault" }>,
    op: "wrap" | "unwrap",
    body: Readonly<Record<string, string>>,
  ): Promise<Record<string, unknown>> {
    const verb = op === "wrap" ? "encrypt" : "decrypt";
    const engine = ref.enginePath.split("/").map(encodeURIComponent).join("/");
    const url = `${ref.address.replace(/\/+$/, "")}/v1/${engine}/${verb}/${encodeURIComponent(ref.keyName)}`;
    const headers: Record<string, string> = { "X-Vault-Token": await vaultToken(ref, op), "Content-Type": "application/json" };
    const ns = env["VAULT_NAMESPACE"];
    if (ns !== undefined && ns !== "") headers["X-Vault-Namespace"] = ns;
    let last: CofferError = failure(ref, op, "KEY_UNAVAILABLE", "not tried");
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) await new Promise((r) => setTimeout(r, Math.random() * Math.min(2000, 100 * 2 ** (attempt - 2))));
      let res: Response;
      try {
        res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
      } catch (e) {
        const timedOut = (e as { name?: unknown }).name === "TimeoutError";
        last = failure(ref, op, "KEY_UNAVAILABLE", timedOut ? "Vault timed out" : "cannot connect to Vault");
        continue;
      }
      const json = (await res.json().catch(() => null)) as { data?: unknown } | null;
      if (res.ok && typeof json?.data === "object" && json.data !== null) return json.data as Record<string, unknown>;
      const s = res.status;
      // Vault's error text is not copied: a misbehaving proxy could echo the request, which carries the key.
      last =
        s === 403
          ? failure(ref, op, "KEY_ACCESS_DENIED", "Vault denied the token (403)")
          : s === 404
            ? failure(ref, op, "KEY_NOT_FOUND", "no such Transit mount (404)")
            : s === 429
              ? failure(ref, op, "KEY_THROTTLED", "rate limited by Vault (429)")
              : s === 400 && op === "unwrap"
                ? failure(ref, op, "DECRYPT_FAILED", "Vault refused the ciphertext (400)")
                : failure(ref, op, "KEY_UNAVAILABLE", `Vault answered ${String(s)}`);
      if (!(s === 429 || (s >= 500 && s !== 501))) break;
    }
    throw last;
  }

  let gcp: Promise<import("@google-cloud/kms").KeyManagementServiceClient> | null = null;
  /** `COFFER_GCP_KMS_ENDPOINT` (an emulator or a loopback fake) and `COFFER_GCP_ACCESS_TOKEN`, else the SDK's defaults (ADC). */
  function gcpClient(): Promise<import("@google-cloud/kms").KeyManagementServiceClient> {
    gcp ??= (async () => {
      const mod = await import("@google-cloud/kms");
      const o: Record<string, string | number | boolean | object> = { fallback: true };
      const endpoint = env["COFFER_GCP_KMS_ENDPOINT"];
      if (endpoint !== undefined && endpoint !== "") {
        const u = new URL(endpoint);
        o["apiEndpoint"] = u.hostname;
        o["port"] = u.port === "" ? (u.protocol === "http:" ? 80 : 443) : Number(u.port);
        o["protocol"] = u.protocol.slice(0, -1);
      }
      const token = env["COFFER_GCP_ACCESS_TOKEN"];
      if (token !== undefined && token !== "") {
        const { OAuth2Client } = await import("google-auth-library");
        const auth = new OAuth2Client();
        auth.setCredentials({ access_token: token });
        o["authClient"] = auth;
      }
      return new mod.KeyManagementServiceClient(o);
    })();
    return gcp;
  }

  let azure: Promise<{
    mod: typeof import("@azure/keyvault-keys");
    credential: import("@azure/core-auth").TokenCredential;
    options: import("@azure/keyvault-keys").CryptographyClientOptions;
  }> | null = null;
  /** `COFFER_AZURE_ACCESS_TOKEN` (a bearer token), else DefaultAzureCredential (`COFFER_AZURE_AUTHORITY_HOST`); `COFFER_AZURE_CA_FILE` adds a CA. */
  function azureSdk(vaultUrl: string): NonNullable<typeof azure> {
    azure ??= (async () => {
      const mod = await import("@azure/keyvault-keys");
      const token = env["COFFER_AZURE_ACCESS_TOKEN"];
      let credential: import("@azure/core-auth").TokenCredential;
      if (token !== undefined && token !== "")
        credential = { getToken: () => Promise.resolve({ token, expiresOnTimestamp: Date.now() + 5 * 60_000 }) };
      else {
        const identity = await import("@azure/identity");
        const authorityHost = env["COFFER_AZURE_AUTHORITY_HOST"];
        credential = new identity.DefaultAzureCredential(authorityHost === undefined ? {} : { authorityHost });
      }
      const caFile = env["COFFER_AZURE_CA_FILE"];
      const ca = caFile === undefined || opts.readText === undefined ? null : await opts.readText(caFile);
      const host = new URL(vaultUrl).hostname;
      const { rootCertificates } = await import("node:tls");
      const options: import("@azure/keyvault-keys").CryptographyClientOptions = {
        retryOptions: { maxRetries: maxAttempts - 1, retryDelayInMs: 100, maxRetryDelayInMs: 2000 },
        // A loopback address (a local proxy or a protocol fake) has no vault domain for the challenge to match.
        ...(host === "127.0.0.1" || host === "localhost" || host === "[::1]" ? { disableChallengeResourceVerification: true } : {}),
        ...(ca === null ? {} : { tlsOptions: { ca: [...rootCertificates, ca] } }),
      };
      return { mod, credential, options };
    })();
    return azure;
  }

  /** The key's version: the stanza's, else the current one (sops records it, so the stanza opens after the key rotates). */
  async function azureVersion(ref: Extract<KeyRef, { type: "azure_kv" }>): Promise<string> {
    if (ref.version !== "") return ref.version;
    const { mod, credential, options } = await azureSdk(ref.vaultUrl);
    const key = await new mod.KeyClient(ref.vaultUrl, credential, options).getKey(ref.name);
    const v = key.properties.version;
    if (v === undefined || v === "") throw failure(ref, "wrap", "CIPHERTEXT_MALFORMED", "Key Vault returned no key version");
    return v;
  }

  async function azureClient(
    ref: Extract<KeyRef, { type: "azure_kv" }>,
    version: string,
  ): Promise<import("@azure/keyvault-keys").CryptographyClient> {
    const { mod, credential, options } = await azureSdk(ref.vaultUrl);
    return new mod.CryptographyClient(`${ref.vaultUrl}/keys/${ref.name}/${version}`, credential, options);
  }

  return {
    async wrap(ref, dataKey) {
      try {
        switch (ref.type) {
          case "kms": {
            const mod = await import("@aws-sdk/client-kms");
            const out = await (
              await kmsClient(ref)
            ).send(
              new mod.EncryptCommand({
                KeyId: ref.arn,
                Plaintext: dataKey,
                ...(ref.context === null ? {} : { EncryptionContext: { ...ref.context } }),
              }),
            );
            if (out.CiphertextBlob === undefined) throw failure(ref, "wrap", "CIPHERTEXT_MALFORMED", "AWS KMS returned no ciphertext");
            return { enc: Buffer.from(out.CiphertextBlob).toString("base64"), ref };
          }
          case "hc_vault": {
            const data = await vaultCall(ref, "wrap", { plaintext: Buffer.from(dataKey).toString("base64") });
            const ct = data["ciphertext"];
            if (typeof ct !== "string" || !/^vault:v\d+:/.test(ct))
              throw failure(ref, "wrap", "CIPHERTEXT_MALFORMED", "Vault returned no Transit ciphertext");
            return { enc: ct, ref };
          }
          case "gcp_kms": {
            const [out] = await (await gcpClient()).encrypt({ name: ref.resourceId, plaintext: Buffer.from(dataKey) });
            const ct = out.ciphertext;
            if (ct === null || ct === undefined) throw failure(ref, "wrap", "CIPHERTEXT_MALFORMED", "GCP KMS returned no ciphertext");
            return { enc: Buffer.from(typeof ct === "string" ? Buffer.from(ct, "base64") : ct).toString("base64"), ref };
          }
          case "azure_kv": {
            const version = await azureVersion(ref);
            const out = await (await azureClient(ref, version)).encrypt({ algorithm: "RSA-OAEP-256", plaintext: dataKey });
            return { enc: Buffer.from(out.result).toString("base64url"), ref: { ...ref, version } };
          }
          default:
            throw failure(
              ref,
              "wrap",
              "KEY_UNAVAILABLE",
              `Coffer cannot wrap data keys for ${ref.type} master keys (updatekeys keeps an existing stanza; --skip-unavailable leaves it out)`,
            );
        }
      } catch (e) {
        throw sdkError(ref, "wrap", e);
      }
    },

    async unwrap(key) {
      try {
        switch (key.type) {
          case "kms": {
            const mod = await import("@aws-sdk/client-kms");
            const out = await (
              await kmsClient(key)
            ).send(
              new mod.DecryptCommand({
                KeyId: key.arn,
                CiphertextBlob: decodeStd(key, key.enc),
                ...(key.context === null ? {} : { EncryptionContext: { ...key.context } }),
              }),
            );
            if (out.Plaintext === undefined) throw failure(key, "unwrap", "CIPHERTEXT_MALFORMED", "AWS KMS returned no plaintext");
            return out.Plaintext;
          }
          case "hc_vault": {
            const data = await vaultCall(key, "unwrap", { ciphertext: key.enc });
            const pt = data["plaintext"];
            if (typeof pt !== "string") throw failure(key, "unwrap", "CIPHERTEXT_MALFORMED", "Vault returned no plaintext");
            return Buffer.from(pt, "base64");
          }
          case "gcp_kms": {
            const [out] = await (await gcpClient()).decrypt({ name: key.resourceId, ciphertext: decodeStd(key, key.enc) });
            const pt = out.plaintext;
            if (pt === null || pt === undefined) throw failure(key, "unwrap", "CIPHERTEXT_MALFORMED", "GCP KMS returned no plaintext");
            return typeof pt === "string" ? Buffer.from(pt, "base64") : Uint8Array.from(pt);
          }
          case "azure_kv": {
            if (!/^[A-Za-z0-9_-]+$/.test(key.enc))
              throw failure(key, "unwrap", "CIPHERTEXT_MALFORMED", "the stanza's enc is not base64url");
            const out = await (
              await azureClient(key, await azureVersion(key))
            ).decrypt({ algorithm: "RSA-OAEP-256", ciphertext: Buffer.from(key.enc, "base64url") });
            return out.result;
          }
          default:
            throw failure(key, "unwrap", "KEY_UNAVAILABLE", `Coffer cannot use ${key.type} master keys`);
        }
      } catch (e) {
        throw sdkError(key, "unwrap", e);
      }
    },
  };
}
