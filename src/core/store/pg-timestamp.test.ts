import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseTimestamp } from "./postgres-store.ts";

/** What the store returned before the text fast path: a round trip through Date. */
const viaDate = (v: string): string => new Date(v.includes("+") || v.endsWith("Z") ? v : `${v}Z`).toISOString();

describe("PostgreSQL timestamp parsing", () => {
  it("gives exactly what the Date round trip gave, for PostgreSQL's UTC text forms", () => {
    const cases = [
      "2026-12-02 15:28:40.037+00",
      "2026-12-02 15:28:40.04+00",
      "2026-12-02 15:28:40.1+00",
      "2026-12-02 15:28:40+00",
      "2026-12-02 15:28:40.123456+00",
      "2026-12-02 15:28:40.999999+00",
      "1999-01-01 00:00:00+00",
    ];
    // And many instants as PostgreSQL prints them (trailing fraction zeros dropped).
    for (let i = 0; i < 2000; i++) {
      const iso = new Date(
        Date.UTC(1971 + (i % 60), i % 12, 1 + (i % 28), i % 24, (i * 7) % 60, (i * 13) % 60, (i * 37) % 1000),
      ).toISOString();
      const frac = iso.slice(20, 23).replace(/0+$/, "");
      cases.push(`${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac === "" ? "" : `.${frac}`}+00`);
    }
    for (const v of cases) assert.equal(parseTimestamp(v), viaDate(v), v);
  });

  it("leaves other forms to Date: another zone, no zone", () => {
    for (const v of ["2026-12-02 16:28:40.037+01", "2026-12-02 15:28:40.5-05:30", "2026-12-02 15:28:40.25"]) {
      assert.equal(parseTimestamp(v), viaDate(v), v);
    }
  });
});
