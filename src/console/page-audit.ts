import type { AuditEventDto } from "../sdk/index.ts";
import { api, can } from "./api.ts";
import { append, clear, field, form, h, submitRow, table, when } from "./dom.ts";
import type { PageContext } from "./main.ts";

const PAGE = 100;
const HEADERS = ["Seq", "Time", "Actor", "Action", "Owner", "Key", "Version", "Outcome", "Reason", "Details"];

function details(d: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(d);
  return entries.length === 0 ? "" : entries.map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ");
}

export async function auditPage(ctx: PageContext): Promise<void> {
  append(ctx.main, h("h1", {}, "Audit log"));
  const verify = h("section", { class: "card", "aria-label": "Chain verification" });
  if (can("audit:read")) append(ctx.main, verify);
  const owner = h("input", { type: "text", name: "owner", autocomplete: "off", spellcheck: "false", placeholder: "project/acme" });
  const action = h("input", { type: "text", name: "action", autocomplete: "off", spellcheck: "false", placeholder: "secret.reveal" });
  const actor = h("input", { type: "text", name: "actor", autocomplete: "off", spellcheck: "false", placeholder: "token:t_…" });
  const sinceInput = h("input", { type: "datetime-local", name: "since" });
  const untilInput = h("input", { type: "datetime-local", name: "until" });
  const out = h("div", {});
  append(
    ctx.main,
    form(
      () => {
        void load().catch(ctx.fail);
      },
      { class: "filters" },
      field("Owner", owner),
      field("Action", action),
      field("Actor", actor, "as recorded, e.g. token:t_1234"),
      field("Since (UTC)", sinceInput),
      field("Until (UTC)", untilInput),
      submitRow("Filter"),
    ),
    out,
  );

  let cursor: string | null = null;
  const rows = h("tbody", {});
  const more = h("button", { type: "button", on: { click: () => void page(false).catch(ctx.fail) } }, "Older events");

  /** One page of events, newest first, filtered by the server (owner, action, actor, time). */
  let query = 0;
  const page = async (first: boolean): Promise<void> => {
    if (first) query += 1;
    const mine = query;
    const utc = (v: string): string | undefined => (v === "" ? undefined : new Date(`${v}Z`).toISOString());
    if (first) {
      // Never show the previous filter's events as this one's answer.
      clear(out);
      append(out, h("p", { class: "muted" }, "Loading…"));
    }
    const since = utc(sinceInput.value);
    const until = utc(untilInput.value);
    const p = await api.listAudit({
      order: "desc",
      limit: PAGE,
      cursor: first ? null : cursor,
      ...(owner.value.trim() === "" ? {} : { owner: owner.value.trim() }),
      ...(action.value.trim() === "" ? {} : { action: action.value.trim() }),
      ...(actor.value.trim() === "" ? {} : { actor: actor.value.trim() }),
      ...(since === undefined ? {} : { since }),
      ...(until === undefined ? {} : { until }),
    });
    // Gone from this page, or overtaken by a newer filter: drop the answer.
    if (!ctx.live() || mine !== query) return;
    cursor = p.nextCursor;
    if (first) {
      clear(out);
      clear(rows);
      if (p.items.length === 0) {
        append(out, h("p", { class: "empty" }, "No events match."));
        return;
      }
      const t = table(HEADERS, [], "Audit events");
      const tbody = t.querySelector("tbody");
      tbody?.replaceWith(rows);
      append(out, h("p", { class: "muted" }, "Newest first."), t, more);
    }
    for (const e of p.items) append(rows, row(e));
    more.hidden = cursor === null;
  };

  const row = (e: AuditEventDto): HTMLElement =>
    h(
      "tr",
      {},
      ...[
        String(e.seq),
        when(e.at),
        e.actor,
        e.action,
        e.owner ?? "",
        e.key ?? "",
        e.version === null ? "" : String(e.version),
        e.outcome,
        e.reason ?? "",
        details(e.details),
      ].map((c, i) => h("td", { "data-label": HEADERS[i] ?? "" }, c)),
    );
  const load = (): Promise<void> => page(true);

  const v = await api.verifyAudit();
  if (!ctx.live()) return;
  clear(verify);
  append(
    verify,
    h("h2", {}, "Chain verification"),
    h(
      "dl",
      {},
      h("dt", {}, "Result"),
      h("dd", { class: v.ok ? "ok" : "error" }, v.ok ? "intact" : `BROKEN: ${String(v.problems.length)} problems`),
      h("dt", {}, "Events"),
      h("dd", {}, String(v.events)),
      h("dt", {}, "Head seq"),
      h("dd", {}, String(v.headSeq)),
      h("dt", {}, "Head MAC"),
      h("dd", {}, h("code", { class: "wrap" }, v.headMac)),
    ),
    h("p", { class: "muted" }, `Record the head outside the database; later: coffer audit verify --anchor ${String(v.headSeq)}:<mac>.`),
    v.ok ? null : h("ul", {}, ...v.problems.slice(0, 20).map((p) => h("li", {}, `seq ${String(p.seq)}: ${p.problem}`))),
  );
  await load();
}
