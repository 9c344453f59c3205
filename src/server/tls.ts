import { X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { CofferError } from "../core/errors/index.ts";

export type TlsFiles = { readonly certPath: string; readonly keyPath: string };

/** A certificate chain and its private key, read and checked together. */
export type TlsMaterial = {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** SHA-256 fingerprint of the leaf certificate (public), for logs. */
  readonly fingerprint256: string;
  readonly notAfter: string;
};

const CERT = "TLS certificate (--tls-cert, COFFER_TLS_CERT)";
const KEY = "TLS private key (--tls-key, COFFER_TLS_KEY)";

function read(path: string, what: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    throw new CofferError("CONFIG_INVALID", `${what}: cannot read ${path} (${code})`, { fields: [field] });
  }
}

/**
 * Reads the PEM certificate chain and private key and checks that they load and belong
 * together. A private key that other accounts can read or write is refused (its group may
 * read it: the Debian `ssl-cert` convention, and what Kubernetes' `fsGroup` makes of a
 * mounted Secret). Errors name the file and the rule, never the key's content.
 * @throws CofferError CONFIG_INVALID naming COFFER_TLS_CERT or COFFER_TLS_KEY.
 */
export function loadTls(files: TlsFiles): TlsMaterial {
  const cert = read(files.certPath, CERT, "COFFER_TLS_CERT");
  const key = read(files.keyPath, KEY, "COFFER_TLS_KEY");
  const mode = statSync(files.keyPath).mode & 0o777;
  if ((mode & 0o007) !== 0) {
    key.fill(0);
    throw new CofferError(
      "CONFIG_INVALID",
      `${KEY}: ${files.keyPath} is accessible by others (mode ${mode.toString(8).padStart(4, "0")}); run: chmod 600 ${files.keyPath}`,
      { fields: ["COFFER_TLS_KEY"] },
    );
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    key.fill(0);
    throw new CofferError("CONFIG_INVALID", `${CERT}: ${files.certPath} is not a PEM certificate`, { fields: ["COFFER_TLS_CERT"] });
  }
  try {
    // Parses the key and checks it matches the certificate (OpenSSL: "key values mismatch").
    createSecureContext({ cert, key });
  } catch (e) {
    key.fill(0);
    // OpenSSL's reason is about the structure ("bad decrypt", "key values mismatch"), never the bytes.
    const reason = (e as { reason?: unknown }).reason;
    throw new CofferError(
      "CONFIG_INVALID",
      `${KEY}: ${files.keyPath} is not the private key of ${files.certPath}` + (typeof reason === "string" ? ` (${reason})` : ""),
      { fields: ["COFFER_TLS_KEY"] },
    );
  }
  return { cert, key, fingerprint256: leaf.fingerprint256, notAfter: leaf.validTo };
}
