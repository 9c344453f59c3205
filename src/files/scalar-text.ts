import { CofferError } from "../core/errors/index.ts";
import type { Plain } from "./enc-value.ts";

/**
 * Conversions between a format's native scalars and sops's canonical text (FORMAT.md §2):
 * int → decimal, float → Go `FormatFloat(v, 'f', -1, 64)` (shortest round trip, never an
 * exponent), bool → `True`/`False`, string → UTF-8.
 */
export type Scalar =
  | { readonly kind: "str"; readonly value: string }
  | { readonly kind: "int"; readonly value: bigint }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "bool"; readonly value: boolean };

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** Go's 'f' format with the shortest precision that round-trips: JS's shortest digits, no exponent. */
export function formatFloat(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  const s = String(v);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (m === null) return s;
  const [, sign = "", lead = "", frac = "", expText = "0"] = m;
  const digits = lead + frac;
  const point = 1 + Number(expText);
  if (point >= digits.length) return sign + digits + "0".repeat(point - digits.length);
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

export function scalarToPlain(s: Scalar): Plain {
  switch (s.kind) {
    case "str":
      return { type: "str", bytes: utf8.encode(s.value) };
    case "int":
      return { type: "int", bytes: utf8.encode(s.value.toString()) };
    case "float":
      return { type: "float", bytes: utf8.encode(formatFloat(s.value)) };
    case "bool":
      return { type: "bool", bytes: utf8.encode(s.value ? "True" : "False") };
  }
}

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** @throws CofferError CIPHERTEXT_MALFORMED when the decrypted text does not parse as its type. */
export function plainToScalar(p: Plain, where: string): Scalar {
  const text = fromUtf8.decode(p.bytes);
  const bad = (): CofferError =>
    new CofferError("CIPHERTEXT_MALFORMED", `${where}: the decrypted value does not parse as type ${p.type}`, { path: where });
  switch (p.type) {
    case "int":
      if (!/^[+-]?\d+$/.test(text)) throw bad();
      return { kind: "int", value: BigInt(text) };
    case "float": {
      // Go's strconv.ParseFloat: also `+Inf`, `-Inf`, `inf`, `infinity`, `NaN` (any case), and `_` is not allowed.
      const special = /^([+-]?)(inf|infinity|nan)$/i.exec(text);
      if (special !== null)
        return { kind: "float", value: (special[2] ?? "").toLowerCase() === "nan" ? NaN : special[1] === "-" ? -Infinity : Infinity };
      const n = Number(text);
      if (text.trim() !== text || text === "" || Number.isNaN(n) || /^[+-]?0[xXbBoO]/.test(text)) throw bad();
      return { kind: "float", value: n };
    }
    case "bool":
      if (TRUE.has(text)) return { kind: "bool", value: true };
      if (FALSE.has(text)) return { kind: "bool", value: false };
      throw bad();
    case "str":
    case "bytes":
    case "time":
    case "comment":
      return { kind: "str", value: text };
  }
}
