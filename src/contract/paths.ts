/**
 * The API's paths, as the SDK builds them. Plain functions and constants with no imports, so
 * the SDK pulls in nothing else from the contract (it stays small and browser-safe).
 */

/** An owner (`user/alice`, `project/acme`, `system`) as the two path segments of the API. */
export function ownerSegments(owner: string): { readonly ownerType: string; readonly ownerId: string } {
  if (owner === "system") return { ownerType: "system", ownerId: "_" };
  const slash = owner.indexOf("/");
  return slash < 0 ? { ownerType: owner, ownerId: "" } : { ownerType: owner.slice(0, slash), ownerId: owner.slice(slash + 1) };
}

/** The API path of one secret. */
export function secretPath(owner: string, key: string): string {
  const { ownerType, ownerId } = ownerSegments(owner);
  return `/v1/secrets/${encodeURIComponent(ownerType)}/${encodeURIComponent(ownerId)}/${encodeURIComponent(key)}`;
}

/** The API path of an owner (for its `:reveal` action). */
export function ownerPath(owner: string): string {
  const { ownerType, ownerId } = ownerSegments(owner);
  return `/v1/secrets/${encodeURIComponent(ownerType)}/${encodeURIComponent(ownerId)}`;
}

/** `POST /v1/secrets:import`. */
export const IMPORT_PATH = "/v1/secrets:import";
/** `GET /v1/secrets:export` (bundle mode: the armored age bundle, `text/plain`). */
export const EXPORT_PATH = "/v1/secrets:export";

/** The path of a stored template: `/v1/templates/project/acme/backup.toml` (system owner: `system/_`). */
export function templatePath(owner: string, name: string): string {
  const { ownerType, ownerId } = ownerSegments(owner);
  return `/v1/templates/${encodeURIComponent(ownerType)}/${encodeURIComponent(ownerId)}/${encodeURIComponent(name)}`;
}

/** `GET /v1/openapi.json`: the OpenAPI 3.1 document of this API (no token needed). */
export const OPENAPI_PATH = "/v1/openapi.json";

/** `POST`: a new scope key for an owner, every data key rewrapped (admin). */
export const REKEY_PATH = "/v1/admin/encryption/rekey";
/** `POST`: crypto-erase an owner (admin). */
export const ERASE_PATH = "/v1/admin/erase";
/** `GET`: value HMACs compared across owners without decrypting (admin). */
export const VALUE_CHECK_PATH = "/v1/admin/value-check";
