import type { SecretDto } from "../sdk/index.ts";
import { api, can, CofferApiError, describeError, reauthenticate } from "./api.ts";
import {
  actions,
  append,
  clear,
  closeButton,
  confirmDialog,
  field,
  form,
  h,
  modal,
  promptDialog,
  showOnceDialog,
  submitButton,
  submitRow,
  table,
  uid,
  when,
} from "./dom.ts";
import type { PageContext } from "./main.ts";

/** How long a revealed value stays on screen. */
const REVEAL_SECONDS = 30;

function parseMeta(text: string): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const at = line.indexOf("=");
    if (at <= 0) throw new CofferApiError("INVALID_INPUT", `meta: each line must be key=value (got a line without '=')`, 400, null);
    meta[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return meta;
}

/** Runs `fn`; when the server wants recent authentication, asks for the token again and retries once. */
async function withReauth<T>(fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof CofferApiError) || e.code !== "REAUTH_REQUIRED") throw e;
    const token = await promptDialog("Confirm it's you", "API token", {
      password: true,
      hint: "Reveals need a recent sign-in. Paste this session's token again.",
      submit: "Confirm",
    });
    if (token === null) return null;
    await reauthenticate(token);
    return fn();
  }
}

export async function secretsPage(ctx: PageContext): Promise<void> {
  append(ctx.main, h("h1", {}, "Secrets"));
  const owners = await api.listOwners();
  const ownerSelect = h(
    "select",
    { name: "owner" },
    ...owners.map((o) => h("option", { value: o.owner }, `${o.owner} (${String(o.secrets)})`)),
  );
  const ownerInput = h("input", {
    type: "text",
    name: "owner-other",
    placeholder: "project/acme",
    autocomplete: "off",
    spellcheck: "false",
  });
  const prefixInput = h("input", { type: "text", name: "prefix", autocomplete: "off", spellcheck: "false" });
  const list = h("div", { class: "secret-list" });
  let owner = owners[0]?.owner ?? "";

  const chooser = form(
    () => {
      owner = ownerInput.value.trim() !== "" ? ownerInput.value.trim() : ownerSelect.value;
      void load();
    },
    { class: "filters" },
    owners.length === 0 ? h("p", { class: "empty" }, "No owner you can see holds a secret yet.") : field("Owner", ownerSelect),
    field("Or another owner", ownerInput, "user/<id>, project/<id> or system"),
    field("Key prefix", prefixInput),
    submitRow("Show"),
  );
  append(ctx.main, chooser, list);

  let query = 0;
  const load = async (): Promise<void> => {
    query += 1;
    const mine = query;
    clear(list);
    if (owner === "") return;
    try {
      const items: SecretDto[] = [];
      for await (const s of api.iterateSecrets({ owner, prefix: prefixInput.value.trim() })) items.push(s);
      // Gone from this page, or overtaken by a newer load: drop the answer.
      if (!ctx.live() || mine !== query) return;
      append(list, h("h2", {}, `Secrets of ${owner}`));
      if (can("secrets:write")) append(list, newSecretForm(owner));
      if (items.length === 0) {
        append(list, h("p", { class: "empty" }, "No secrets here."));
        return;
      }
      append(
        list,
        table(
          ["Key", "Value", "Version", "Updated", "Metadata", "Actions"],
          items.map((s) => [
            h("code", {}, s.key),
            h("span", { class: "masked", "aria-label": "hidden value" }, "••••••••"),
            String(s.version),
            when(s.updatedAt),
            metaList(s.meta),
            rowActions(s),
          ]),
          `Secrets of ${owner}`,
        ),
      );
    } catch (e) {
      ctx.fail(e);
    }
  };

  const metaList = (meta: Readonly<Record<string, string>>): HTMLElement => {
    const entries = Object.entries(meta);
    if (entries.length === 0) return h("span", { class: "muted" }, "—");
    return h("ul", { class: "meta" }, ...entries.map(([k, v]) => h("li", {}, h("code", {}, k), " = ", h("span", {}, v))));
  };

  const rowActions = (s: SecretDto): HTMLElement => {
    const b = (label: string, fn: () => Promise<void>, cls = ""): HTMLElement =>
      h("button", { type: "button", class: cls, "aria-label": `${label} ${s.key}`, on: { click: () => void fn().catch(ctx.fail) } }, label);
    return h(
      "div",
      { class: "row-actions" },
      can("secrets:reveal") ? b("Reveal", () => reveal(s)) : null,
      b("History", () => history(s)),
      can("secrets:write") ? b("New version", () => newVersion(s)) : null,
      can("secrets:reveal") ? b("Share", () => share(s)) : null,
      can("secrets:write") ? b("Delete", () => remove(s), "danger") : null,
    );
  };

  const reveal = async (s: SecretDto): Promise<void> => {
    const reason = await promptDialog(`Reveal ${s.key}`, "Reason", {
      hint: "Recorded in the audit log with your token.",
      submit: "Reveal",
    });
    if (reason === null) return;
    const r = await withReauth(() => api.revealSecret(s.owner, s.key, { reason }));
    if (r === null) return;
    let value: string | null = r.value ?? null;
    const shown = h("code", { class: "revealed", "data-revealed": "" }, value ?? "(binary value: use the CLI)");
    const countdown = h("span", { class: "muted" }, "");
    let left = REVEAL_SECONDS;
    let timer = 0;
    await modal(
      `${s.key} (version ${String(r.version)})`,
      (close) => {
        const tick = (): void => {
          countdown.textContent = `Hidden again in ${String(left)} s.`;
          left -= 1;
          if (left < 0) close(null);
        };
        tick();
        timer = window.setInterval(tick, 1000);
        return [
          h("p", {}, "Shown once. It is not kept by this page."),
          shown,
          countdown,
          actions(
            h(
              "button",
              {
                type: "button",
                on: {
                  click: () => {
                    if (value === null) return;
                    navigator.clipboard.writeText(value).then(
                      () => {
                        ctx.say("Copied to the clipboard.");
                      },
                      () => {
                        ctx.say("The browser refused the clipboard. [INTERNAL]", "error");
                      },
                    );
                  },
                },
              },
              "Copy",
            ),
            closeButton(close, "Hide", "primary"),
          ),
        ];
      },
      {
        onClose: () => {
          window.clearInterval(timer);
          shown.textContent = "";
          shown.remove();
          value = null;
        },
      },
    );
  };

  const history = async (s: SecretDto): Promise<void> => {
    const versions = await api.listVersions(s.owner, s.key);
    await modal(`History of ${s.key}`, (close) => [
      table(
        ["Version", "Current", "Created", "By", "Destroyed"],
        versions.map((v) => [String(v.version), v.current ? "yes" : "", when(v.createdAt), v.createdBy, when(v.destroyedAt)]),
        `Versions of ${s.key}`,
      ),
      actions(closeButton(close, "Close", "primary")),
    ]);
  };

  const newVersion = async (s: SecretDto): Promise<void> => {
    const value = h("input", { type: "password", required: true, autocomplete: "new-password", spellcheck: "false" });
    const cas = h("input", { type: "checkbox", checked: true, id: uid("cas") });
    const done = await modal(`New version of ${s.key}`, (close) => [
      form(
        () => {
          const v = value.value;
          value.value = "";
          api
            .putSecret(s.owner, s.key, { value: v, meta: s.meta }, cas.checked ? { ifMatch: s.version } : {})
            .then((r) => {
              ctx.say(`${s.key} is now at version ${String(r.version)}.`);
              close("ok");
            })
            .catch((err: unknown) => {
              ctx.say(describeError(err), "error");
              close(null);
            });
        },
        {},
        field("New value", value),
        h("div", { class: "field inline" }, cas, h("label", { for: cas.id }, `Only if still at version ${String(s.version)}`)),
        actions(closeButton(close, "Cancel"), submitButton("Save")),
      ),
    ]);
    if (done !== null) await load();
  };

  const remove = async (s: SecretDto): Promise<void> => {
    const ok = await confirmDialog(
      `Delete ${s.key}?`,
      [h("p", {}, `Deletes ${s.key} of ${s.owner} (at version ${String(s.version)}). Its history stays in the audit log.`)],
      "Delete",
      true,
    );
    if (!ok) return;
    await api.deleteSecret(s.owner, s.key, { ifMatch: s.version });
    ctx.say(`Deleted ${s.key}.`);
    await load();
  };

  const share = async (s: SecretDto): Promise<void> => {
    const reason = await promptDialog(`One-time link for ${s.key}`, "Reason", {
      hint: "Recorded in the audit log.",
      submit: "Create link",
    });
    if (reason === null) return;
    const link = await withReauth(() => api.shareSecret(s.owner, s.key, { reason }));
    if (link === null) return;
    await showOnceDialog(
      "One-time link",
      `Works once, until ${when(link.expiresAt)}. Redeem it with: POST to the link (coffer share open).`,
      h("code", { class: "wrap" }, link.url),
    );
  };

  const newSecretForm = (o: string): HTMLElement => {
    const key = h("input", { type: "text", required: true, autocomplete: "off", spellcheck: "false" });
    const value = h("input", { type: "password", required: true, autocomplete: "new-password", spellcheck: "false" });
    const meta = h("textarea", { rows: 2, spellcheck: "false" });
    return h(
      "details",
      { class: "card" },
      h("summary", {}, "New secret"),
      form(
        () => {
          const v = value.value;
          value.value = "";
          let m: Record<string, string>;
          try {
            m = parseMeta(meta.value);
          } catch (err) {
            ctx.fail(err);
            return;
          }
          api
            .putSecret(o, key.value.trim(), { value: v, meta: m }, { ifMatch: 0 })
            .then((r) => {
              ctx.say(`Created ${r.key} (version ${String(r.version)}).`);
              return load();
            })
            .catch(ctx.fail);
        },
        {},
        field("Key", key),
        field("Value", value),
        field("Metadata", meta, "One key=value per line (optional)."),
        submitRow("Create"),
      ),
    );
  };

  if (owner !== "") await load();
}
