import { invalidInput } from "../errors/index.ts";

export const TIME_RULE =
  "must be an ISO 8601 date or time with a zone (2026-12-01, 2026-12-01T09:30:00Z) or a time ago such as 30m, 12h, 7d, 2w";

const ISO = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;
const AGO = /^([1-9][0-9]{0,5})([smhdw])$/;
const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * A point in time as a user writes it for `--since`/`--until` (and `since`/`until` over HTTP):
 * an ISO 8601 date (midnight UTC) or date-time with `Z` or an offset, or a relative `<n><unit>`
 * (s, m, h, d, w) meaning that long before `now`. A date-time without a zone is refused: the
 * CLI and the server could read it in different zones.
 * @throws CofferError INVALID_INPUT naming `field`.
 */
export function parseTimePoint(text: string, field: string, now: Date): Date {
  const ago = AGO.exec(text);
  if (ago !== null) return new Date(now.getTime() - Number(ago[1]) * (UNIT_MS[ago[2] ?? "s"] ?? 1000));
  if (!ISO.test(text)) throw invalidInput(field, TIME_RULE);
  // Date accepts 2026-02-31 (rolls over to March): the calendar date must exist as written.
  const day = new Date(`${text.slice(0, 10)}T00:00:00Z`);
  const d = new Date(text);
  if (Number.isNaN(d.getTime()) || Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== text.slice(0, 10))
    throw invalidInput(field, TIME_RULE);
  return d;
}
