import { describeError, signIn } from "./api.ts";
import { actions, append, field, form, h, submitButton } from "./dom.ts";
import type { PageContext } from "./main.ts";

export function signInPage(ctx: PageContext): Promise<void> {
  const input = h("input", { type: "password", name: "token", required: true, autocomplete: "off", spellcheck: "false" });
  const button = submitButton("Sign in");
  const signInForm = form(
    () => {
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
    { class: "card narrow" },
    field(
      "API token",
      input,
      "Paste a Coffer token (coffer_…). It is exchanged for a session cookie the page's script cannot read, and is not kept in the browser.",
    ),
    actions(button),
  );
  append(ctx.main, h("h1", {}, "Sign in"), signInForm);
  input.focus();
  return Promise.resolve();
}
