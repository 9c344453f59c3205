import { describeError, signIn } from "./api.ts";
import { append, field, h } from "./dom.ts";
import type { PageContext } from "./main.ts";

export function signInPage(ctx: PageContext): Promise<void> {
  const input = h("input", { type: "password", name: "token", required: true, autocomplete: "off", spellcheck: "false" });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    {
      method: "post",
      class: "card narrow",
      on: {
        submit: (e) => {
          e.preventDefault();
          const token = input.value;
          input.value = "";
          button.disabled = true;
          signIn(token)
            .then(() => {
              ctx.go("/admin");
            })
            .catch((err: unknown) => {
              ctx.say(describeError(err), "error");
              button.disabled = false;
              input.focus();
            });
        },
      },
    },
    field(
      "API token",
      input,
      "Paste a Coffer token (coffer_…). It is exchanged for a session cookie the page's script cannot read, and is not kept in the browser.",
    ),
    h("div", { class: "actions" }, button),
  );
  append(ctx.main, h("h1", {}, "Sign in"), form);
  input.focus();
  return Promise.resolve();
}
