import type { TokenDto } from "../sdk/index.ts";
import { api } from "./api.ts";
import { append, clear, confirmDialog, field, form, h, showOnceDialog, submitRow, table, uid, when } from "./dom.ts";
import type { PageContext } from "./main.ts";

const SCOPES = ["secrets:read", "secrets:write", "secrets:reveal", "audit:read", "admin"] as const;

export async function tokensPage(ctx: PageContext): Promise<void> {
  append(ctx.main, h("h1", {}, "Tokens"));
  const list = h("div", {});
  const name = h("input", { type: "text", required: true, autocomplete: "off", spellcheck: "false" });
  const owners = h("input", { type: "text", required: true, autocomplete: "off", spellcheck: "false", placeholder: "project/acme" });
  const ttl = h("input", { type: "text", autocomplete: "off", spellcheck: "false", placeholder: "90d" });
  const interactive = h("input", { type: "checkbox", id: uid("interactive") });
  const boxes = SCOPES.map((s) => h("input", { type: "checkbox", value: s, id: uid("scope") }));
  const newToken = form(
    () => {
      void create().catch(ctx.fail);
    },
    {},
    field("Name", name),
    h(
      "fieldset",
      {},
      h("legend", {}, "Scopes"),
      ...boxes.map((b) => h("div", { class: "field inline" }, b, h("label", { for: b.id }, b.value))),
    ),
    field("Owners", owners, "Comma-separated patterns: project/acme, project/*, user/alice, system, *"),
    field("Lifetime", ttl, "e.g. 12h, 90d; empty: does not expire"),
    h("div", { class: "field inline" }, interactive, h("label", { for: interactive.id }, "A person's token (reveals need recent sign-in)")),
    submitRow("Create token"),
  );
  append(ctx.main, h("details", { class: "card" }, h("summary", {}, "New token"), newToken), list);

  const create = async (): Promise<void> => {
    const t = await api.createToken({
      name: name.value.trim(),
      scopes: boxes.filter((b) => b.checked).map((b) => b.value),
      owners: owners.value
        .split(",")
        .map((o) => o.trim())
        .filter((o) => o !== ""),
      ...(ttl.value.trim() === "" ? {} : { ttl: ttl.value.trim() }),
      interactive: interactive.checked,
    });
    await showOnceDialog(
      `Token ${t.name} created`,
      "Copy it now: it is shown this once and Coffer keeps only its hash.",
      h("code", { class: "revealed wrap" }, t.token),
    );
    ctx.say(`Created token ${t.name} (${t.id}).`);
    await load();
  };

  const revoke = async (t: TokenDto): Promise<void> => {
    const ok = await confirmDialog(
      `Revoke ${t.name}?`,
      [h("p", {}, `Token ${t.id} stops working at once, and its console sessions end.`)],
      "Revoke",
      true,
    );
    if (!ok) return;
    await api.revokeToken(t.id);
    ctx.say(`Revoked ${t.name}.`);
    await load();
  };

  const load = async (): Promise<void> => {
    const tokens = await api.listTokens();
    if (!ctx.live()) return;
    clear(list);
    if (tokens.length === 0) {
      append(list, h("p", { class: "empty" }, "No tokens."));
      return;
    }
    append(
      list,
      table(
        ["Name", "Id", "Scopes", "Owners", "Interactive", "Created", "Expires", "Last used", "State"],
        tokens.map((t) => [
          t.name,
          h("code", {}, t.id),
          t.scopes.join(", "),
          t.owners.join(", "),
          t.interactive ? "yes" : "no",
          when(t.createdAt),
          when(t.expiresAt),
          when(t.lastUsedAt),
          t.revokedAt === null
            ? h(
                "button",
                { type: "button", class: "danger", "aria-label": `Revoke ${t.name}`, on: { click: () => void revoke(t).catch(ctx.fail) } },
                "Revoke",
              )
            : `revoked ${when(t.revokedAt)}`,
        ]),
        "API tokens",
      ),
    );
  };
  await load();
}
