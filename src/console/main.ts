/** The Coffer admin console (docs/console.md): one page, client-side routes under /admin/. */
import { CofferApiError, can, current, describeError, forget, resume, signOut } from "./api.ts";
import { append, clear, h } from "./dom.ts";
import { auditPage } from "./page-audit.ts";
import { encryptionPage } from "./page-encryption.ts";
import { secretsPage } from "./page-secrets.ts";
import { signInPage } from "./page-signin.ts";
import { tokensPage } from "./page-tokens.ts";

export type PageContext = {
  /** Where the page draws. */
  readonly main: HTMLElement;
  /** Shows an error (with its code) or a notice in the page's live region. */
  readonly say: (text: string, kind?: "error" | "ok") => void;
  readonly fail: (e: unknown) => void;
  readonly go: (path: string) => void;
  /** True while this page is still the one shown (polling stops when it is not). */
  readonly live: () => boolean;
};

type Route = {
  readonly path: string;
  readonly label: string;
  readonly allowed: () => boolean;
  readonly render: (ctx: PageContext) => Promise<void>;
};

const ROUTES: readonly Route[] = [
  { path: "/admin/encryption", label: "Encryption", allowed: () => can("admin"), render: encryptionPage },
  { path: "/admin/secrets", label: "Secrets", allowed: () => can("secrets:read"), render: secretsPage },
  { path: "/admin/audit", label: "Audit", allowed: () => can("audit:read"), render: auditPage },
  { path: "/admin/tokens", label: "Tokens", allowed: () => can("admin"), render: tokensPage },
];

const root = document.getElementById("app") ?? document.body;
let generation = 0;

function go(path: string): void {
  if (location.pathname !== path) history.pushState(null, "", path);
  void render();
}

function layout(active: string): { main: HTMLElement; status: HTMLElement } {
  clear(root);
  const s = current();
  const status = h("div", { class: "status", role: "status", "aria-live": "polite" });
  const main = h("main", { id: "main", tabindex: "-1" });
  const nav =
    s === null
      ? null
      : h(
          "nav",
          { "aria-label": "Console" },
          h(
            "ul",
            {},
            ...ROUTES.filter((r) => r.allowed()).map((r) =>
              h(
                "li",
                {},
                h(
                  "a",
                  {
                    href: r.path,
                    "aria-current": r.path === active ? "page" : null,
                    on: {
                      click: (e) => {
                        e.preventDefault();
                        go(r.path);
                      },
                    },
                  },
                  r.label,
                ),
              ),
            ),
          ),
        );
  const who =
    s === null
      ? null
      : h(
          "div",
          { class: "who" },
          h("span", {}, "Signed in as token ", h("strong", {}, s.token.name), ` (${s.token.id})`),
          h(
            "button",
            {
              type: "button",
              on: {
                click: () => {
                  void signOut()
                    .catch(() => undefined)
                    .then(() => {
                      go("/admin/signin");
                    });
                },
              },
            },
            "Sign out",
          ),
        );
  append(
    root,
    h("a", { class: "skip", href: "#main" }, "Skip to content"),
    h("header", {}, h("div", { class: "brand" }, "Coffer"), nav, who),
    status,
    main,
  );
  return { main, status };
}

async function render(): Promise<void> {
  generation += 1;
  const mine = generation;
  if (current() === null) {
    try {
      await resume();
    } catch {
      // shown by the sign-in page's own attempt
    }
  }
  const s = current();
  let path = location.pathname.replace(/\/+$/, "");
  if (s === null && path !== "/admin/signin") {
    history.replaceState(null, "", "/admin/signin");
    path = "/admin/signin";
  }
  if (s !== null && (path === "/admin" || path === "/admin/signin")) {
    const first = ROUTES.find((r) => r.allowed());
    path = first?.path ?? "/admin/secrets";
    history.replaceState(null, "", path);
  }
  const { main, status } = layout(path);
  const say = (text: string, kind: "error" | "ok" = "ok"): void => {
    clear(status);
    if (text !== "") append(status, h("p", { class: kind, role: kind === "error" ? "alert" : null }, text));
  };
  const ctx: PageContext = {
    main,
    say,
    fail: (e) => {
      if (e instanceof CofferApiError && e.status === 401 && e.code === "UNAUTHENTICATED") {
        forget();
        go("/admin/signin");
        return;
      }
      say(describeError(e), "error");
    },
    go,
    live: () => generation === mine,
  };
  if (path === "/admin/signin") {
    document.title = "Sign in · Coffer";
    await signInPage(ctx);
    return;
  }
  const route = ROUTES.find((r) => r.path === path);
  if (route === undefined) {
    document.title = "Not found · Coffer";
    append(main, h("h1", {}, "Not found"), h("p", {}, "There is no such console page."));
    return;
  }
  document.title = `${route.label} · Coffer`;
  if (!route.allowed()) {
    append(main, h("h1", {}, route.label), h("p", { class: "empty" }, "This token's scopes do not allow this page."));
    return;
  }
  try {
    await route.render(ctx);
  } catch (e) {
    ctx.fail(e);
  }
}

window.addEventListener("popstate", () => void render());
void render();
