/**
 * The admin console in a real browser: Debian's chromium driven by playwright-core against a
 * real `coffer serve` on a temporary data directory (docs/console.md). Screenshots of every
 * page go to a temporary directory whose path is printed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium, type BrowserContext, type Page, type Request } from "playwright-core";
import { CofferClient } from "../../src/sdk/index.ts";
import { CliHarness } from "../fixtures/cli.ts";
import { dropAuditTriggers, rawDb } from "../fixtures/raw-db.ts";
import { removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
];
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** The revealed value the canary search looks for everywhere it must not be. */
const CANARY = `canary-${randomBytes(12).toString("hex")}`;
const REASON = `console check ${randomBytes(4).toString("hex")}`;

/** HTML and script payloads: each would run code, add an element or make a request if parsed as HTML. */
function payloads(probe: string): readonly string[] {
  return [
    `<img src=x onerror="window.__xss='img'">`,
    `<script>window.__xss='script'</script>`,
    `"><svg onload="window.__xss='svg'"></svg>`,
    `<iframe src="javascript:alert(1)"></iframe>`,
    `<img src="${probe}/pixel">`,
    `<a href="javascript:alert(2)" id="injected">x</a>`,
  ];
}

async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await fn();
    if (v !== null && v !== undefined && v !== false) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out;
}

type Status = {
  active: string;
  keys: { kid: string; scopeKeys: number }[];
  totals: { liveSecrets: number };
  rotationJobs: { state: string }[];
};

describe(
  "the admin console in a real browser",
  { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)` },
  () => {
    const cli = new CliHarness();
    const shots = mkdtempSync(join(tmpdir(), "coffer-console-shots-"));
    const profile = mkdtempSync(join(tmpdir(), "coffer-console-profile-"));
    let srv: ServerHandle;
    let admin: CofferClient;
    let adminToken = "";
    let scopedToken = "";
    let ctx: BrowserContext;
    let page: Page;
    let probe: Server;
    let probeUrl = "";
    const probeHits: string[] = [];
    const dialogs: string[] = [];
    const requests: Request[] = [];
    const postBodies: string[] = [];
    /** Origins the test itself serves (Coffer servers, the attacker's page): any other request would be third-party. */
    const ownOrigins: string[] = ["http://127.0.0.2:"];

    const inPage = async <T = unknown>(expression: string): Promise<T> => await page.evaluate(expression);
    const shot = async (name: string): Promise<void> => {
      const path = join(shots, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      console.log(`screenshot: ${path}`);
    };
    const signIn = async (token: string): Promise<void> => {
      await page.goto(`${srv.url}/admin/`);
      await page.getByLabel("API token").fill(token);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("button", { name: "Sign out" }).waitFor();
    };
    const signOut = async (): Promise<void> => {
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByLabel("API token").waitFor();
    };
    const nav = async (label: string, heading: string): Promise<void> => {
      await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: label }).click();
      await page.getByRole("heading", { level: 1, name: heading }).waitFor();
    };
    const assertNothingInjected = async (where: string): Promise<void> => {
      const found = await inPage(`({
      xss: window.__xss ?? null,
      elements: document.querySelectorAll("img, svg, iframe, object, embed, #injected").length,
      scripts: [...document.scripts].map((s) => s.src),
    })`);
      assert.deepEqual(found, { xss: null, elements: 0, scripts: [`${srv.url}/admin/assets/app.js`] }, where);
      assert.deepEqual(dialogs, [], `no dialog opened (${where})`);
      assert.deepEqual(probeHits, [], `no request reached the probe (${where})`);
    };
    const axe = async (where: string): Promise<void> => {
      await page.evaluate(AXE);
      const r = await inPage<{ id: string; impact: string | null; nodes: number }[]>(
        `axe.run(document).then((res) => res.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })))`,
      );
      assert.deepEqual(
        r.filter((v) => v.impact === "serious" || v.impact === "critical"),
        [],
        `axe on ${where}`,
      );
    };

    before(async () => {
      probe = createServer((req, res) => {
        probeHits.push(req.url ?? "");
        res.end("");
      });
      await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
      const addr = probe.address();
      probeUrl = `http://127.0.0.1:${String(typeof addr === "object" && addr !== null ? addr.port : 0)}`;

      srv = await startServer({ home: cli.home, env: { COFFER_LOG_LEVEL: "info", COFFER_REAUTH_WINDOW: "1s" } });
      adminToken = srv.adminToken ?? "";
      admin = new CofferClient({ baseUrl: srv.url, token: adminToken });
      const hostile = payloads(probeUrl);
      await admin.putSecret("project/acme", "DB_PASSWORD", {
        value: CANARY,
        meta: Object.fromEntries(hostile.map((p, i) => [`note${String(i)}`, p])),
      });
      await admin.putSecret("project/acme", "API_KEY", { value: "not-the-canary-1" });
      await admin.putSecret("project/other", "OTHER_SECRET", { value: "not-the-canary-2" });
      for (const p of hostile) await admin.revealSecret("project/acme", "API_KEY", { reason: p });
      const scoped = await admin.createToken({
        name: "acme console",
        scopes: ["secrets:read", "secrets:write", "secrets:reveal"],
        owners: ["project/acme"],
        interactive: true,
      });
      scopedToken = scoped.token;
      // Token names cannot hold HTML through the API; a database writer can put it there anyway.
      const hostileName = await admin.createToken({ name: "hostile", scopes: ["secrets:read"], owners: ["project/none"] });
      const db = rawDb(cli.home);
      db.prepare("UPDATE tokens SET name = ? WHERE id = ?").run(hostile[0], hostileName.id);
      db.close();

      mkdirSync(profile, { recursive: true });
      ctx = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: FLAGS,
        viewport: { width: 1280, height: 900 },
      });
      page = ctx.pages()[0] ?? (await ctx.newPage());
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      ctx.on("request", (r) => {
        requests.push(r);
        const body = r.postData();
        if (body !== null) postBodies.push(body);
      });
    });

    after(async () => {
      await ctx.close();
      await srv.stop();
      await new Promise<void>((r) =>
        probe.close(() => {
          r();
        }),
      );
      cli.cleanup();
      rmSync(profile, { recursive: true, force: true });
      console.log(`console screenshots kept in ${shots}`);
    });

    it("serves its pages with a strict CSP and the security headers, from this origin only", async () => {
      for (const path of ["/admin/", "/admin/encryption", "/admin/assets/app.js", "/v1/owners"]) {
        const res = await fetch(srv.url + path);
        const csp = res.headers.get("content-security-policy") ?? "";
        assert.match(csp, /script-src 'self'/, path);
        assert.match(csp, /frame-ancestors 'none'/, path);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/, path);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
        assert.equal(res.headers.get("referrer-policy"), "no-referrer", path);
      }
      const html = await (await fetch(`${srv.url}/admin/`)).text();
      assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]|https?:\/\//, "no inline script, no absolute URL");
    });

    it("signs in with a token exchanged for an HttpOnly, SameSite=Strict session cookie; the token is kept nowhere", async () => {
      await page.goto(`${srv.url}/admin/encryption`);
      await page.getByLabel("API token").waitFor();
      assert.equal(new URL(page.url()).pathname, "/admin/signin");
      await shot("signin");
      await axe("sign-in");
      const wrong = `coffer_${"A".repeat(43)}`;
      await page.getByLabel("API token").fill(wrong);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByText(/\[UNAUTHENTICATED\]/).waitFor();
      await signIn(adminToken);
      await page.getByRole("heading", { level: 1, name: "Encryption" }).waitFor();
      const cookies = await ctx.cookies(srv.url);
      const session = cookies.find((c) => c.name === "coffer_session");
      assert.ok(session !== undefined);
      assert.equal(session.httpOnly, true);
      assert.equal(session.sameSite, "Strict");
      const seen = await inPage<{ cookie: string; local: string; session: string }>(`({
      cookie: document.cookie,
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
    })`);
      assert.deepEqual({ cookie: seen.cookie, local: seen.local, session: seen.session }, { cookie: "", local: "{}", session: "{}" });
      for (const r of requests) assert.ok(!r.url().includes(adminToken), "the token never travels in a URL");
    });

    it("shows the real counts on the encryption page, rotates with a confirmation until a new key is active, and every secret still reveals", async () => {
      const before = (await admin.encryptionStatus()) as unknown as Status;
      const live = page.getByRole("region", { name: "Secrets", exact: true }).locator("dd").first();
      assert.equal(await live.textContent(), String(before.totals.liveSecrets));
      const activeKid = page.getByRole("region", { name: "Active master key" }).locator("dd code").first();
      assert.equal(await activeKid.textContent(), before.active);
      await shot("encryption");
      await axe("encryption");

      await page.getByRole("button", { name: "Rotate master key" }).click();
      const dlg = page.getByRole("dialog", { name: "Rotate the master key?" });
      await dlg.waitFor();
      await dlg.getByRole("button", { name: "Rotate" }).click();
      await page
        .getByRole("status")
        .getByText(/Rotation (started|finished)/)
        .waitFor();
      const after = await waitFor("the rotation to finish", async () => {
        const s = (await admin.encryptionStatus()) as unknown as Status;
        return s.active !== before.active && s.rotationJobs[0]?.state === "done" ? s : null;
      });
      await waitFor("the page to show the new active kid", async () => (await activeKid.textContent()) === after.active);
      await waitFor("the finished job", async () => (await page.getByRole("progressbar").count()) === 0);
      assert.equal(after.keys.find((k) => k.kid === before.active)?.scopeKeys, 0);
      assert.equal((await admin.revealSecret("project/acme", "DB_PASSWORD", { reason: "after rotation" })).value, CANARY);
      assert.equal((await admin.revealSecret("project/acme", "API_KEY", { reason: "after rotation" })).value, "not-the-canary-1");
      assert.equal((await admin.revealSecret("project/other", "OTHER_SECRET", { reason: "after rotation" })).value, "not-the-canary-2");

      // Nothing depends on the old key now: it can be retired from the key-history table.
      await page.getByRole("button", { name: `Retire ${before.active}` }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Retire" }).click();
      await page.getByRole("status").getByText(`Retired ${before.active}.`).waitFor();
      await shot("encryption-rotated");
      // The README's picture (docs/console.png): the top of this page, scaled down to stay small.
      await page.setViewportSize({ width: 896, height: 600 });
      await inPage("document.documentElement.style.zoom = '0.7'");
      const readme = join(shots, "readme.png");
      await page.screenshot({ path: readme });
      await inPage("document.documentElement.style.zoom = ''");
      await page.setViewportSize({ width: 1280, height: 900 });
      console.log(`screenshot: ${readme}`);
    });

    it("creates, reveals with a reason (shown once, then gone from the DOM), and deletes a secret; metadata payloads stay text", async () => {
      await nav("Secrets", "Secrets");
      await page.getByLabel("Owner", { exact: true }).selectOption("project/acme");
      await page.getByRole("button", { name: "Show" }).click();
      await page.getByRole("table", { name: "Secrets of project/acme" }).waitFor();
      for (const p of payloads(probeUrl)) await page.getByText(p, { exact: true }).first().waitFor();
      await assertNothingInjected("secrets page");
      await axe("secrets");

      await page.getByText("New secret").click();
      await page.getByLabel("Key", { exact: true }).fill("NEW_ONE");
      await page.getByLabel("Value", { exact: true }).fill("typed-in-the-form");
      await page.getByLabel("Metadata").fill("owner=team-a");
      await page.getByRole("button", { name: "Create" }).click();
      await page.getByRole("status").getByText("Created NEW_ONE (version 1).").waitFor();
      assert.equal(await page.getByLabel("Value", { exact: true }).inputValue(), "");
      assert.equal((await admin.revealSecret("project/acme", "NEW_ONE", { reason: "check" })).value, "typed-in-the-form");

      await page.getByRole("button", { name: "Reveal DB_PASSWORD" }).click();
      await page.getByRole("dialog").getByLabel("Reason").fill(REASON);
      await page.getByRole("dialog").getByRole("button", { name: "Reveal" }).click();
      const shown = page.locator("[data-revealed]");
      await shown.waitFor();
      assert.equal(await shown.textContent(), CANARY);
      await shot("secrets-revealed");
      await page.getByRole("button", { name: "Hide" }).click();
      await page.getByRole("dialog").waitFor({ state: "detached" });
      assert.ok(!(await page.content()).includes(CANARY), "the value is gone from the DOM once hidden");
      assert.ok(!(await inPage<string>("document.documentElement.outerHTML + document.body.innerText")).includes(CANARY));

      // A new version, check-and-set on the version shown; then a stale page's write is refused with CONFLICT.
      await admin.putSecret("project/acme", "API_KEY", { value: "written-elsewhere" });
      await page.getByRole("button", { name: "New version API_KEY" }).click();
      await page.getByRole("dialog").getByLabel("New value").fill("from-a-stale-page");
      await page.getByRole("dialog").getByRole("button", { name: "Save" }).click();
      await page
        .getByRole("status")
        .getByText(/\[CONFLICT\]/)
        .waitFor();
      await page.getByRole("button", { name: "Show" }).click();
      await page.getByRole("button", { name: "New version API_KEY" }).click();
      await page.getByRole("dialog").getByLabel("New value").fill("not-the-canary-3");
      await page.getByRole("dialog").getByRole("button", { name: "Save" }).click();
      await page.getByRole("status").getByText("API_KEY is now at version 3.").waitFor();

      // A one-time link: shown once, redeemable once.
      await page.getByRole("button", { name: "Share API_KEY" }).click();
      await page.getByRole("dialog").getByLabel("Reason").fill("hand over to the vendor");
      await page.getByRole("dialog").getByRole("button", { name: "Create link" }).click();
      const link = (await page.getByRole("dialog", { name: "One-time link" }).locator("code").textContent()) ?? "";
      const shareToken = /\/v1\/shared\/([^:]+):reveal$/.exec(link)?.[1] ?? "";
      assert.notEqual(shareToken, "", link);
      await page.getByRole("dialog").getByRole("button", { name: "Done" }).click();
      assert.ok(!(await page.content()).includes(shareToken), "the link is gone from the page once closed");
      assert.equal((await new CofferClient({ baseUrl: srv.url }).redeemShared(shareToken)).value, "not-the-canary-3");

      await page.getByRole("button", { name: "History API_KEY" }).click();
      await page.getByRole("table", { name: "Versions of API_KEY" }).waitFor();
      await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();

      await page.getByRole("button", { name: "Delete NEW_ONE" }).click();
      await page.getByRole("dialog", { name: "Delete NEW_ONE?" }).getByRole("button", { name: "Delete" }).click();
      await page.getByRole("status").getByText("Deleted NEW_ONE.").waitFor();
      await assert.rejects(admin.getSecret("project/acme", "NEW_ONE"), { code: "NOT_FOUND" });
      await shot("secrets");
    });

    it("shows the reveal's reason on the audit page, newest first, with the chain's verification; reason payloads stay text", async () => {
      await nav("Audit", "Audit log");
      await page.getByRole("region", { name: "Chain verification" }).getByText("intact").waitFor();
      await page.getByLabel("Action").fill("secret.reveal");
      await page.getByRole("button", { name: "Filter" }).click();
      await page.getByRole("table", { name: "Audit events" }).waitFor();
      const seqs = (await page.getByRole("table", { name: "Audit events" }).locator("tbody tr td:first-child").allTextContents()).map((t) =>
        Number(t.replace(/^Seq/, "")),
      );
      assert.ok(seqs.length > 3);
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => b - a),
        "newest first",
      );
      await page.getByText(REASON, { exact: true }).waitFor();
      for (const p of payloads(probeUrl)) await page.getByText(p, { exact: true }).first().waitFor();
      await assertNothingInjected("audit page");
      // Actor and time filters (server-side).
      await page.getByLabel("Actor").fill("token:t_bootstrap");
      await page.getByRole("button", { name: "Filter" }).click();
      await page.getByText(REASON, { exact: true }).waitFor();
      const actors = await waitFor("the filtered events", async () => {
        const a = await page.getByRole("table", { name: "Audit events" }).locator("tbody tr td:nth-child(3)").allTextContents();
        return a.length > 0 && a.every((x) => x === "token:t_bootstrap") ? a : null;
      });
      assert.ok(actors.length > 0);
      await page.getByLabel("Since (UTC)").fill("2999-01-01T00:00");
      await page.getByRole("button", { name: "Filter" }).click();
      await page.getByText("No events match.").waitFor();
      await page.getByLabel("Since (UTC)").fill("");
      await page.getByLabel("Actor").fill("");
      await page.getByRole("button", { name: "Filter" }).click();
      await page.getByRole("table", { name: "Audit events" }).waitFor();
      await shot("audit");
      await axe("audit");
    });

    it("lists, creates (shown once) and revokes tokens; a token name holding HTML stays text", async () => {
      await nav("Tokens", "Tokens");
      await page.getByText(payloads(probeUrl)[0] ?? "", { exact: true }).waitFor();
      await assertNothingInjected("tokens page");
      await page.getByText("New token").click();
      await page.getByLabel("Name").fill("made in the console");
      await page.getByLabel("secrets:read").check();
      await page.getByLabel("Owners").fill("project/acme");
      await page.getByRole("button", { name: "Create token" }).click();
      const once = page.getByRole("dialog").locator(".revealed");
      const token = (await once.textContent()) ?? "";
      assert.match(token, /^coffer_[A-Za-z0-9_-]{43}$/);
      await page.getByRole("dialog").getByRole("button", { name: "Done" }).click();
      assert.ok(!(await page.content()).includes(token), "the new token is gone from the page once closed");
      await page.getByRole("button", { name: "Revoke made in the console" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Revoke" }).click();
      await page.getByRole("status").getByText("Revoked made in the console.").waitFor();
      const listed = await admin.listTokens();
      assert.ok(listed.find((t) => t.name === "made in the console")?.revokedAt !== null);
      await shot("tokens");
      await axe("tokens");
    });

    it("is usable on a phone-sized viewport", async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      for (const [label, heading] of [
        ["Encryption", "Encryption"],
        ["Secrets", "Secrets"],
        ["Audit", "Audit log"],
        ["Tokens", "Tokens"],
      ] as const) {
        await nav(label, heading);
        await page.waitForLoadState("networkidle");
        const overflow = await inPage<number>("document.documentElement.scrollWidth - window.innerWidth");
        assert.ok(overflow <= 0, `${label}: the page does not scroll sideways (by ${String(overflow)} px)`);
        await shot(`phone-${label.toLowerCase()}`);
      }
      await page.setViewportSize({ width: 1280, height: 900 });
    });

    it("ends the session on sign-out: a replayed cookie is refused", async () => {
      const cookie = (await ctx.cookies(srv.url)).find((c) => c.name === "coffer_session")?.value ?? "";
      assert.notEqual(cookie, "");
      const csrf = await (await fetch(`${srv.url}/v1/console/session`, { headers: { cookie: `coffer_session=${cookie}` } })).json();
      assert.equal((await fetch(`${srv.url}/v1/owners`, { headers: { cookie: `coffer_session=${cookie}` } })).status, 200);
      await signOut();
      for (const [method, path] of [
        ["GET", "/v1/console/session"],
        ["GET", "/v1/owners"],
        ["POST", "/v1/tokens"],
      ] as const) {
        const res = await fetch(srv.url + path, {
          method,
          headers: {
            cookie: `coffer_session=${cookie}`,
            "x-coffer-csrf": (csrf as { csrf: string }).csrf,
            ...(method === "POST" ? { "content-type": "application/json" } : {}),
          },
          ...(method === "POST" ? { body: JSON.stringify({ name: "replayed", scopes: ["admin"], owners: ["*"] }) } : {}),
        });
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.equal(((await res.json()) as { code: string }).code, "UNAUTHENTICATED");
      }
    });

    it("refuses a cross-origin form post and a request without the CSRF token", async () => {
      await signIn(adminToken);
      const cookie = (await ctx.cookies(srv.url)).find((c) => c.name === "coffer_session")?.value ?? "";
      const { csrf } = (await (
        await fetch(`${srv.url}/v1/console/session`, { headers: { cookie: `coffer_session=${cookie}` } })
      ).json()) as {
        csrf: string;
      };
      // An attacker's page on another origin posts a form at the API while the admin is signed in.
      const port = new URL(srv.url).port;
      const attacker = createServer((_req, res) => {
        res.setHeader("content-type", "text/html");
        res.end(
          `<form id=f method=post enctype=text/plain action="http://127.0.0.1:${port}/v1/tokens"><input name='{"name":"evil","scopes":["admin"],"owners":["*"],"x":"' value='"}'></form><script>document.getElementById("f").submit()</script>`,
        );
      });
      // 127.0.0.2: another origin and another site than 127.0.0.1, so SameSite=Strict applies.
      await new Promise<void>((r) => attacker.listen(0, "127.0.0.2", r));
      const aAddr = attacker.address();
      const aPort = typeof aAddr === "object" && aAddr !== null ? aAddr.port : 0;
      try {
        const answered = page.waitForResponse((r) => r.url().endsWith("/v1/tokens") && r.request().method() === "POST");
        await page.goto(`http://127.0.0.2:${String(aPort)}/`);
        const res = await answered;
        assert.ok([401, 403].includes(res.status()), `refused (HTTP ${String(res.status())})`);
      } finally {
        attacker.closeAllConnections(); // the browser keeps its connection alive
        await new Promise<void>((r) =>
          attacker.close(() => {
            r();
          }),
        );
      }
      assert.equal((await admin.listTokens()).filter((t) => t.name === "evil").length, 0, "no token was created");

      // Even with the cookie attached (a browser without SameSite), another Origin or a missing CSRF token is refused.
      const body = JSON.stringify({ name: "evil", scopes: ["admin"], owners: ["*"] });
      const base = { cookie: `coffer_session=${cookie}`, "content-type": "application/json" };
      for (const headers of [
        { ...base },
        { ...base, "x-coffer-csrf": "0".repeat(64) },
        { ...base, "x-coffer-csrf": csrf, origin: "http://evil.invalid" },
      ]) {
        const res = await fetch(`${srv.url}/v1/tokens`, { method: "POST", headers, body });
        assert.equal(res.status, 403);
        assert.equal(((await res.json()) as { code: string }).code, "CSRF_REFUSED");
      }
      const ok = await fetch(`${srv.url}/v1/tokens`, {
        method: "POST",
        headers: { ...base, "x-coffer-csrf": csrf, origin: srv.url },
        body: JSON.stringify({ name: "legit", scopes: ["secrets:read"], owners: ["project/acme"] }),
      });
      assert.equal(ok.status, 201, "the same request with the session's CSRF token from this origin works");
      const signInElsewhere = await fetch(`${srv.url}/v1/console/session`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: "http://evil.invalid" },
        body: JSON.stringify({ token: adminToken }),
      });
      assert.equal(signInElsewhere.status, 403);
      await page.goto(`${srv.url}/admin/`);
      await signOut();
    });

    it("shows a token scoped to one owner only that owner, offers only what its scopes allow, and asks for the token again to reveal after the re-auth window", async () => {
      await signIn(scopedToken);
      const signedInAt = Date.now();
      const links = await page.getByRole("navigation", { name: "Console" }).getByRole("link").allTextContents();
      assert.deepEqual(links, ["Secrets"]);
      await page.getByRole("heading", { level: 1, name: "Secrets" }).waitFor();
      // The owner list arrives with its own request after the page: wait for it, not for the heading.
      await page.getByLabel("Owner", { exact: true }).locator("option").first().waitFor({ state: "attached" });
      const options = await page.getByLabel("Owner", { exact: true }).locator("option").allTextContents();
      assert.deepEqual(
        options.map((o) => o.replace(/ \(\d+\)$/, "")),
        ["project/acme"],
      );
      await page.getByLabel("Or another owner").fill("project/other");
      await page.getByRole("button", { name: "Show" }).click();
      await page.getByText(/\[SCOPE_DENIED\]/).waitFor();
      await page.getByLabel("Or another owner").fill("");
      await page.getByRole("button", { name: "Show" }).click();
      await page.getByRole("table", { name: "Secrets of project/acme" }).waitFor();
      const direct = await page.evaluate(async () => (await fetch("/v1/secrets?ownerType=project&ownerId=other")).status);
      assert.equal(direct, 403, "the API enforces it too");
      const tokensApi = await page.evaluate(async () => (await fetch("/v1/tokens")).status);
      assert.equal(tokensApi, 403);

      // COFFER_REAUTH_WINDOW is 1s for this server: once it has passed, the interactive token must be presented again.
      await waitFor("the re-auth window to pass", () => Promise.resolve(Date.now() - signedInAt > 1500));
      await page.getByRole("button", { name: "Reveal DB_PASSWORD" }).click();
      await page.getByRole("dialog").getByLabel("Reason").fill("scoped reveal");
      await page.getByRole("dialog").getByRole("button", { name: "Reveal" }).click();
      const again = page.getByRole("dialog", { name: "Confirm it's you" });
      await again.waitFor();
      await again.getByLabel("API token").fill(scopedToken);
      await again.getByRole("button", { name: "Confirm" }).click();
      const shown = page.locator("[data-revealed]");
      await shown.waitFor();
      assert.equal(await shown.textContent(), CANARY);
      await page.getByRole("button", { name: "Hide" }).click();
      await page.getByRole("dialog").waitFor({ state: "detached" });
      assert.ok(!(await page.content()).includes(CANARY));
      await signOut();
    });

    it("renders an audit actor that holds HTML as text (and reports the tampered chain)", async () => {
      const db = rawDb(cli.home);
      dropAuditTriggers(db);
      const last = db.prepare("SELECT max(seq) AS seq FROM audit_events").get() as { seq: number };
      db.prepare("UPDATE audit_events SET actor = ? WHERE seq = ?").run(payloads(probeUrl)[2], last.seq);
      db.close();
      await signIn(adminToken);
      await nav("Audit", "Audit log");
      await page
        .getByRole("region", { name: "Chain verification" })
        .getByText(/BROKEN/)
        .waitFor();
      await page.getByRole("button", { name: "Filter" }).click();
      await page
        .getByText(payloads(probeUrl)[2] ?? "", { exact: true })
        .first()
        .waitFor();
      await assertNothingInjected("audit page with a hostile actor");
      await signOut();
    });

    it("says why and what to do when the key provider cannot mint a key", async () => {
      const env = await startServer({ env: { COFFER_KEK_BASE64: randomBytes(32).toString("base64") } });
      ownOrigins.push(env.url);
      try {
        await page.goto(`${env.url}/admin/signin`);
        await page.getByLabel("API token").fill(env.adminToken ?? "");
        await page.getByRole("button", { name: "Sign in" }).click();
        await page.getByRole("button", { name: "Rotate master key" }).click();
        await page.getByRole("dialog", { name: "Rotate the master key?" }).getByRole("button", { name: "Rotate" }).click();
        const why = page.getByRole("dialog", { name: "This key provider cannot create a key" });
        await why.getByText(/\[KEY_CANNOT_MINT\]/).waitFor();
        await why.getByText(/coffer keys rotate --to-kid/).waitFor();
        await shot("encryption-cannot-mint");
        await why.getByRole("button", { name: "Close" }).click();
        await page.getByRole("button", { name: "Sign out" }).click();
        await page.getByLabel("API token").waitFor();
      } finally {
        await env.stop();
        removeHome(env.home);
      }
    });

    it("leaves the revealed value nowhere: not in storage, the network log's URLs and request bodies, the profile on disk, or the server's logs", async () => {
      const storage = await inPage<Record<string, unknown>>(`(async () => ({
      local: JSON.stringify({ ...localStorage }),
      session: JSON.stringify({ ...sessionStorage }),
      caches: await caches.keys(),
      idb: (await indexedDB.databases()).map((d) => d.name),
      url: location.href,
    }))()`);
      assert.ok(!JSON.stringify(storage).includes(CANARY), "web storage");
      for (const c of await ctx.cookies()) assert.ok(!c.value.includes(CANARY), "cookies");
      for (const r of requests) {
        assert.ok(!r.url().includes(CANARY), `request URL ${r.url()}`);
        assert.ok(!r.url().includes(adminToken) && !r.url().includes(scopedToken), "no token in a URL");
        assert.ok(!JSON.stringify(r.headers()).includes(CANARY), "request headers");
      }
      for (const b of postBodies) assert.ok(!b.includes(CANARY), "request bodies");
      for (const r of requests)
        assert.ok(
          [srv.url, ...ownOrigins].some((o) => r.url().startsWith(o)),
          `no third-party origin: ${r.url()}`,
        );
      assert.ok(!srv.output().includes(CANARY), "server logs");
      assert.ok(!srv.output().includes(scopedToken), "server logs hold no token");
      assert.match(srv.output(), /"route":"\/v1\/secrets\/:ownerType\/:ownerId\/:action"/, "request logs were on");
      await ctx.close();
      for (const f of filesUnder(profile)) {
        if (statSync(f).size > 50_000_000) continue;
        assert.ok(!readFileSync(f).includes(CANARY), `browser profile file ${f}`);
      }
      assert.deepEqual(dialogs, []);
      assert.deepEqual(probeHits, []);
    });
  },
);
