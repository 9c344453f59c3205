/**
 * A few DOM helpers. Everything shown goes in as text (`createTextNode`, `textContent`): the
 * console never parses a string as HTML (and the page's Trusted Types policy would refuse it).
 */
export type Child = Node | string | number | null | undefined | false;
type Handler = (ev: Event) => void;
export type Props = {
  readonly class?: string | null;
  readonly on?: Readonly<Record<string, Handler>>;
  readonly [attr: string]: string | number | boolean | undefined | null | Readonly<Record<string, Handler>>;
};

/** An element with attributes (never `on…` strings: handlers go in `on`) and text or element children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "on") {
      for (const [type, fn] of Object.entries(v as Record<string, Handler>)) el.addEventListener(type, fn);
    } else if (k.startsWith("on")) {
      throw new Error(`h(): pass handlers in 'on', not as attribute ${k}`);
    } else if (v === true) {
      el.setAttribute(k, "");
    } else if (typeof v === "string" || typeof v === "number") {
      el.setAttribute(k, String(v));
    }
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

export function clear(el: Element): void {
  while (el.firstChild !== null) el.removeChild(el.firstChild);
}

let seq = 0;
export function uid(prefix: string): string {
  seq += 1;
  return `${prefix}-${String(seq)}`;
}

/** A labelled form field. */
export function field(label: string, input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  const id = input.id === "" ? uid("f") : input.id;
  input.id = id;
  const hintEl = hint === undefined ? null : h("small", { id: `${id}-hint`, class: "hint" }, hint);
  if (hintEl !== null) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl);
}

export function when(iso: string | null): string {
  if (iso === null) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, "Z");
}

export function table(headers: readonly string[], rows: readonly (readonly Child[])[], caption: string): HTMLElement {
  return h(
    "div",
    // Focusable, so a keyboard can scroll a table wider than the screen.
    { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, ...headers.map((t) => h("th", { scope: "col" }, t)))),
      // data-label: on a phone each row is shown as a card, each cell under its column's name (app.css).
      h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c, i) => h("td", { "data-label": headers[i] ?? "" }, c))))),
    ),
  );
}

/** A modal dialog (native `<dialog>`: focus is trapped and Escape closes it); resolves with the returned value or null. */
export function modal(
  title: string,
  body: (close: (v: string | null) => void) => Child[],
  opts: { readonly onClose?: () => void } = {},
): Promise<string | null> {
  return new Promise((resolve) => {
    const titleId = uid("dlg");
    const dlg = h("dialog", { "aria-labelledby": titleId });
    let done = false;
    const close = (v: string | null): void => {
      if (done) return;
      done = true;
      opts.onClose?.();
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    dlg.addEventListener("cancel", (e) => {
      e.preventDefault();
      close(null);
    });
    append(dlg, h("h2", { id: titleId }, title), ...body(close));
    document.body.appendChild(dlg);
    dlg.showModal();
  });
}

/**
 * A form the page handles itself: `submit` runs instead of the browser's submission (which would
 * navigate, and put the fields in a URL).
 */
export function form(submit: () => void, props: Props, ...children: Child[]): HTMLFormElement {
  return h(
    "form",
    {
      method: "post",
      ...props,
      on: {
        submit: (e) => {
          e.preventDefault();
          submit();
        },
      },
    },
    ...children,
  );
}

/** A form's main button. */
export function submitButton(label: string): HTMLButtonElement {
  return h("button", { type: "submit", class: "primary" }, label);
}

/** A page form's row with its one submit button. */
export function submitRow(label: string): HTMLElement {
  return h("div", { class: "actions left" }, submitButton(label));
}

/** A dialog's row of buttons. */
export function actions(...children: Child[]): HTMLElement {
  return h("div", { class: "actions" }, ...children);
}

/**
 * A dialog button that closes it with `answer` (none for "Cancel", "Close", "Done", "Hide"); `cls`
 * styles it ("primary" for the main one, "danger").
 */
export function closeButton(
  close: (v: string | null) => void,
  label: string,
  cls: string | null = null,
  answer: string | null = null,
): HTMLButtonElement {
  return h(
    "button",
    {
      type: "button",
      class: cls,
      on: {
        click: () => {
          close(answer);
        },
      },
    },
    label,
  );
}

/**
 * Shows a value the server gives out once (a new token, a one-time link) under a note, with a
 * "Done" button; the value's element leaves the page when the dialog closes, however it closes.
 * Resolves (with null) once closed.
 */
export function showOnceDialog(title: string, note: string, shown: HTMLElement): Promise<string | null> {
  return modal(title, (close) => [h("p", {}, note), shown, actions(closeButton(close, "Done", "primary"))], {
    onClose: () => {
      shown.remove();
    },
  });
}

export function confirmDialog(title: string, text: Child[], confirmLabel: string, danger = false): Promise<boolean> {
  return modal(title, (close) => [
    h("div", {}, ...text),
    actions(closeButton(close, "Cancel"), closeButton(close, confirmLabel, danger ? "danger" : "primary", "yes")),
  ]).then((v) => v === "yes");
}

/** Asks for one line of text (a reason, a token); `password` hides what is typed. */
export function promptDialog(
  title: string,
  label: string,
  opts: { readonly password?: boolean; readonly hint?: string; readonly submit?: string } = {},
): Promise<string | null> {
  return modal(title, (close) => {
    const input = h("input", {
      type: opts.password === true ? "password" : "text",
      required: true,
      autocomplete: "off",
      spellcheck: "false",
    });
    const answer = form(
      () => {
        const v = input.value;
        input.value = "";
        close(v);
      },
      {},
      field(label, input, opts.hint),
      actions(closeButton(close, "Cancel"), submitButton(opts.submit ?? "OK")),
    );
    return [answer];
  });
}
