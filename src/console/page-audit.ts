import type { AuditEventDto } from "../sdk/index.ts";
import { api, can } from "./api.ts";
import { append, clear, field, h, table, when } from "./dom.ts";
import type { PageContext } from "./main.ts";

/** At most this many events are read for one view (newest shown first). */
const MAX_EVENTS = 5000;
const SHOWN = 200;

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
  const since = h("input", { type: "datetime-local", name: "since" });
  const until = h("input", { type: "datetime-local", name: "until" });
  const out = h("div", {});
  append(
    ctx.main,
    h(
      "form",
      {
        method: "post",
        class: "filters",
        on: {
          submit: (e) => {
            e.preventDefault();
            void load().catch(ctx.fail);
          },
        },
      },
      field("Owner", owner),
      field("Action", action),
      field("Actor", actor),
      field("Since (UTC)", since),
      field("Until (UTC)", until),
      h("div", { class: "actions left" }, h("button", { type: "submit", class: "primary" }, "Filter")),
    ),
    out,
  );

  const load = async (): Promise<void> => {
    const events: AuditEventDto[] = [];
    let cursor: string | null = null;
    do {
      const page = await api.listAudit({
        ...(owner.value.trim() === "" ? {} : { owner: owner.value.trim() }),
        ...(action.value.trim() === "" ? {} : { action: action.value.trim() }),
        cursor,
        limit: 1000,
      });
      events.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null && events.length < MAX_EVENTS);
    if (!ctx.live()) return;
    const a = actor.value.trim();
    const from = since.value === "" ? null : Date.parse(`${since.value}Z`);
    const to = until.value === "" ? null : Date.parse(`${until.value}Z`);
    const shown = events
      .filter(
        (e) => (a === "" || e.actor.includes(a)) && (from === null || Date.parse(e.at) >= from) && (to === null || Date.parse(e.at) <= to),
      )
      .reverse();
    clear(out);
    if (shown.length === 0) {
      append(out, h("p", { class: "empty" }, "No events match."));
      return;
    }
    append(
      out,
      h(
        "p",
        { class: "muted" },
        `${String(shown.length)} events, newest first${shown.length > SHOWN ? `; the first ${String(SHOWN)} shown` : ""}.`,
      ),
      table(
        ["Seq", "Time", "Actor", "Action", "Owner", "Key", "Version", "Outcome", "Reason", "Details"],
        shown
          .slice(0, SHOWN)
          .map((e) => [
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
          ]),
        "Audit events",
      ),
    );
  };

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
