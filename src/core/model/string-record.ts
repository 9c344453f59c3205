/**
 * A plain object (as `JSON.parse` makes them) whose own keys and values are all strings,
 * checked without zod: the common case of `z.record(z.string(), z.string())`, on `coffer run`'s
 * path. Never true for anything that schema refuses; an own `__proto__` key (which the
 * schema's copy drops) and other oddities are left to the schema.
 */
export function isStringRecord(value: unknown): value is Record<string, string> {
  if (typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const key of Reflect.ownKeys(value)) {
    if (typeof key !== "string" || key === "__proto__") return false;
    if (typeof (value as Record<string, unknown>)[key] !== "string") return false;
  }
  return true;
}

export type TextField = "text" | "text-or-null" | "text-record";

/**
 * A plain object with exactly `fields`, each a string, a string or null, or an `isStringRecord`:
 * the common case of a `z.strictObject` of `z.string()`, `z.nullable(z.string())` and
 * `z.record(z.string(), z.string())`, checked without zod. Never true for anything that schema refuses.
 */
export function hasTextFields(value: unknown, fields: Readonly<Record<string, TextField>>): boolean {
  if (typeof value !== "object" || value === null || Object.getPrototypeOf(value) !== Object.prototype) return false;
  const keys = Reflect.ownKeys(value);
  if (keys.length !== Object.keys(fields).length) return false;
  for (const key of keys) {
    if (typeof key !== "string" || !Object.hasOwn(fields, key)) return false;
    const v = (value as Record<string, unknown>)[key];
    const kind = fields[key];
    const fits = kind === "text-record" ? isStringRecord(v) : typeof v === "string" || (kind === "text-or-null" && v === null);
    if (!fits) return false;
  }
  return true;
}
