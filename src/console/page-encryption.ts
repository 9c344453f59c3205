import type { KeyStatusDto } from "../sdk/index.ts";
import { api, CofferApiError, describeError } from "./api.ts";
import { actions, append, clear, closeButton, confirmDialog, h, modal, table, when, type Child } from "./dom.ts";
import type { PageContext } from "./main.ts";

type Kid = KeyStatusDto["keys"][number];

function pct(x: number): string {
  return `${(x * 100).toPrecision(3)} %`;
}

function card(title: string, ...rows: [string, Child][]): HTMLElement {
  return h(
    "section",
    { class: "card", "aria-label": title },
    h("h2", {}, title),
    h("dl", {}, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
  );
}

function state(k: Kid): string {
  if (k.active) return "active";
  if (k.retiredAt !== null) return "retired";
  return k.configured ? "inactive" : "inactive (not in the keyring)";
}

const HOW_IT_WORKS: readonly [string, string][] = [
  [
    "Three layers of keys",
    "Every secret version is encrypted with its own data key. Data keys are encrypted (wrapped) by the scope key of the secret's owner, and every scope key is wrapped by the master key (the active kid). The master key itself lives with its provider (a key file, the OS keychain, a cloud KMS) and never in the database.",
  ],
  [
    "Rotation",
    "Rotate makes a new master key (where the provider can create one), makes it active, and rewraps every scope key under it in the background. Secret values and data keys are not re-encrypted and do not change; only the small wrapped scope keys are rewritten. Until it finishes, both master keys are needed.",
  ],
  [
    "Retirement",
    "When nothing depends on an old master key any more, it can be retired: Coffer refuses to use it from then on. Delete it from its provider only after database backups taken before the rotation have aged out, or those backups can no longer be opened.",
  ],
  [
    "Crypto-erase",
    "Erasing an owner (coffer erase) destroys its scope key, which makes every value of that owner unreadable at once, in this database and in any backup taken later. Backups taken earlier still hold the old scope key: that is what the backup retention is for.",
  ],
  [
    "What rotation does not do",
    "It does not change any secret's value (rotate the credential itself for that), does not re-encrypt values, and does not make a leaked master key harmless for backups taken before the rotation.",
  ],
];

export async function encryptionPage(ctx: PageContext): Promise<void> {
  append(ctx.main, h("h1", {}, "Encryption"));
  const body = h("div", { class: "encryption" });
  append(ctx.main, body);
  const draw = async (): Promise<KeyStatusDto> => {
    const s = await api.encryptionStatus();
    if (!ctx.live()) return s;
    clear(body);
    const active = s.keys.find((k) => k.active);
    const running = s.rotationJobs.find((j) => j.state === "running") ?? null;
    const rotate = h(
      "button",
      { type: "button", class: "primary", disabled: running !== null, on: { click: () => void startRotation() } },
      "Rotate master key",
    );
    append(
      body,
      h(
        "div",
        { class: "cards" },
        card(
          "Active master key",
          ["Kid", h("code", {}, s.active)],
          ["Provider", active?.provider ?? "—"],
          ["Fingerprint", h("code", { class: "wrap" }, active?.fingerprint ?? "—")],
          ["Created", when(active?.createdAt ?? null)],
          ["Activated", when(active?.activatedAt ?? null)],
          ["Wraps", String(active?.wrapCount ?? 0)],
          ["Nonce budget used", pct(active?.nonceBudgetUsed ?? 0)],
          ["Rotation due", active?.rotationDue === true ? `yes: ${active.rotationDueReason ?? ""}` : "no"],
        ),
        card(
          "Secrets",
          ["Live secrets", String(s.totals.liveSecrets)],
          ["All secrets (with deleted)", String(s.totals.secrets)],
          ["Versions", String(s.totals.versions)],
        ),
        card(
          "Under the active key",
          ["Scope keys", String(active?.scopeKeys ?? 0)],
          ["Owners", String(active?.owners ?? 0)],
          ["Secret versions", String(active?.secretVersions ?? 0)],
          ["Internal keys", String(active?.internalKeys ?? 0)],
        ),
        card("Legacy rows", ["Values in a legacy format", String(s.legacyRows)]),
      ),
      h("div", { class: "actions left" }, rotate, running === null ? null : progress(running)),
      h("h2", {}, "Key history"),
      table(
        [
          "Kid",
          "State",
          "Provider",
          "Created",
          "Activated",
          "Retired",
          "Scope keys",
          "Owners",
          "Versions",
          "Internal keys",
          "Wraps",
          "Retire",
        ],
        s.keys.map((k) => [
          h("code", {}, k.kid),
          state(k),
          k.provider,
          when(k.createdAt),
          when(k.activatedAt),
          when(k.retiredAt),
          String(k.scopeKeys),
          String(k.owners),
          String(k.secretVersions),
          String(k.internalKeys),
          String(k.wrapCount),
          retireCell(k),
        ]),
        "Every master key this database has used",
      ),
      h("h2", {}, "Rotation jobs"),
      s.rotationJobs.length === 0
        ? h("p", { class: "empty" }, "No rotation has run yet.")
        : table(
            ["Job", "From", "To", "State", "Progress", "Started", "Finished"],
            s.rotationJobs.map((j) => [
              h("code", {}, j.id),
              j.fromKid ?? "—",
              j.toKid,
              j.state,
              `${String(j.done)} / ${String(j.total)}`,
              when(j.startedAt),
              when(j.finishedAt),
            ]),
            "Recent master-key rotations",
          ),
      h(
        "section",
        { class: "how", "aria-labelledby": "how-title" },
        h("h2", { id: "how-title" }, "How it works"),
        ...HOW_IT_WORKS.flatMap(([t, p]) => [h("h3", {}, t), h("p", {}, p)]),
      ),
    );
    if (running !== null) setTimeout(() => void draw().catch(ctx.fail), 1000);
    return s;
  };

  const progress = (j: KeyStatusDto["rotationJobs"][number]): HTMLElement =>
    h(
      "div",
      { class: "progress", role: "status" },
      h("label", { for: "rotation-progress" }, `Rotating to ${j.toKid}: ${String(j.done)} of ${String(j.total)} scope keys rewrapped`),
      h("progress", { id: "rotation-progress", max: Math.max(j.total, 1), value: j.done }),
    );

  const retireCell = (k: Kid): Child => {
    if (k.active) return "in use (active)";
    if (k.retiredAt !== null) return "retired";
    if (k.scopeKeys + k.internalKeys > 0) return "in use: rotate first";
    if (k.safeToRetireAt !== null && Date.parse(k.safeToRetireAt) > Date.now()) return `safe from ${when(k.safeToRetireAt)}`;
    return h(
      "button",
      {
        type: "button",
        "aria-label": `Retire ${k.kid}`,
        on: {
          click: () => {
            void (async () => {
              const ok = await confirmDialog(
                `Retire ${k.kid}?`,
                [
                  h(
                    "p",
                    {},
                    "Nothing in the database depends on this key any more. Once retired, Coffer refuses to use it. Keep it with its provider until backups taken before the rotation have aged out.",
                  ),
                ],
                "Retire",
                true,
              );
              if (!ok) return;
              try {
                await api.retireKey(k.kid);
                ctx.say(`Retired ${k.kid}.`);
                await draw();
              } catch (e) {
                ctx.fail(e);
              }
            })();
          },
        },
      },
      "Retire",
    );
  };

  const startRotation = async (): Promise<void> => {
    const ok = await confirmDialog(
      "Rotate the master key?",
      [
        h(
          "p",
          {},
          "Coffer creates a new master key with the configured provider, makes it active, and rewraps every scope key under it in the background. Secret values do not change. The old key stays needed until the rotation finishes.",
        ),
      ],
      "Rotate",
    );
    if (!ok) return;
    try {
      const r = await api.rotateEncryption({});
      ctx.say(
        r.state === "done"
          ? `Rotation finished: ${r.toKid} is active.`
          : `Rotation started: ${r.toKid} is active; rewrapping ${String(r.total)} scope keys…`,
      );
      await draw();
    } catch (e) {
      if (e instanceof CofferApiError && e.code === "KEY_CANNOT_MINT") {
        await modal("This key provider cannot create a key", (close) => [
          h("p", {}, describeError(e)),
          h(
            "p",
            {},
            "Create the new key with the provider yourself, add it to the keyring file, then rotate to it: coffer keys rotate --to-kid <new kid> (see docs/keys.md).",
          ),
          actions(closeButton(close, "Close", "primary")),
        ]);
        return;
      }
      ctx.fail(e);
    }
  };

  await draw();
}
