import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { CliHarness, type CliResult } from "../fixtures/cli.ts";
import { call, removeHome, startServer, type ServerHandle } from "../fixtures/server.ts";

type Event = { seq: number; at: string; actor: string; action: string; owner: string | null; key: string | null };

function events(r: CliResult): Event[] {
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Event[];
}

/**
 * `coffer audit list` selection and order, in local mode and in remote mode against a real
 * server on the same database: the same filters give the same events, and a scoped token
 * still sees only its owners' events.
 */
describe("coffer audit list: newest first, --tail, --since/--until, --actor, --action (local and remote)", () => {
  let srv: ServerHandle;
  let local: CliHarness; // the server's own data directory, read by the CLI in local mode
  let remote: CliHarness; // admin token
  let scoped: CliHarness; // audit:read on project/a only
  let mid = "";
  let end = "";
  let localActor = "";

  before(async () => {
    srv = await startServer({ env: { COFFER_KEK_PROVIDER: "file" } });
    local = new CliHarness({ COFFER_KEK_PROVIDER: "file" });
    local.env["COFFER_HOME"] = srv.home;
    remote = new CliHarness({ COFFER_ADDR: srv.url, COFFER_TOKEN: srv.adminToken ?? "" });
    const t = await call(srv.url, "POST", "/v1/tokens", {
      token: srv.adminToken,
      body: { name: "auditor-a", scopes: ["audit:read"], owners: ["project/a"] },
    });
    scoped = new CliHarness({ COFFER_ADDR: srv.url, COFFER_TOKEN: (t.body as { token: string }).token });
    const ok = (r: CliResult): void => {
      assert.equal(r.status, 0, r.stderr);
    };
    ok(remote.run(["secrets", "set", "project/a", "K1", "--stdin"], { input: "1" }));
    ok(remote.run(["secrets", "set", "project/a", "K2", "--stdin"], { input: "2" }));
    ok(remote.run(["secrets", "set", "project/b", "K1", "--stdin"], { input: "3" }));
    // Event times have millisecond precision: step past the boundary so it falls between events.
    await sleep(5);
    mid = new Date().toISOString();
    await sleep(5);
    ok(local.run(["secrets", "set", "project/a", "K3", "--stdin"], { input: "4" }));
    ok(remote.run(["secrets", "unset", "project/b", "K1"]));
    await sleep(5);
    end = new Date().toISOString();
    await sleep(5);
    localActor =
      events(local.run(["audit", "list", "--action", "secret.set", "--owner", "project/a", "--limit", "1", "--json"]))[0]?.actor ?? "";
  });
  after(async () => {
    await srv.stop();
    removeHome(srv.home);
    local.cleanup();
    remote.cleanup();
    scoped.cleanup();
  });

  it("lists newest first by default; --tail N is the newest N oldest first; --oldest-first pages with --after", () => {
    const all = events(local.run(["audit", "list", "--until", end, "--json"]));
    const seqs = all.map((e) => e.seq);
    assert.ok(seqs.length >= 5);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => b - a),
      "newest first",
    );
    assert.equal(all[0]?.action, "secret.unset");
    const tail = events(local.run(["audit", "list", "--until", end, "--tail", "2", "--json"]));
    assert.deepEqual(
      tail.map((e) => e.seq),
      seqs.slice(0, 2).reverse(),
    );
    const human = local.run(["audit", "list", "--until", end, "--tail", "2"]);
    assert.match(human.stdout, /secret\.set +project\/a +K3 [^\n]*\n[^\n]*secret\.unset +project\/b +K1/);
    const oldest = events(local.run(["audit", "list", "--oldest-first", "--limit", "2", "--json"]));
    assert.deepEqual(
      oldest.map((e) => e.seq),
      [...seqs].reverse().slice(0, 2),
    );
    const next = events(local.run(["audit", "list", "--oldest-first", "--after", String(oldest[1]?.seq), "--limit", "2", "--json"]));
    assert.deepEqual(
      next.map((e) => e.seq),
      [...seqs].reverse().slice(2, 4),
    );
  });

  it("--since/--until (ISO 8601 and relative), --actor and --action select the same events", () => {
    const since = events(local.run(["audit", "list", "--since", mid, "--until", end, "--json"]));
    assert.deepEqual(
      since.map((e) => `${e.action} ${e.owner ?? ""} ${e.key ?? ""}`),
      ["secret.unset project/b K1", "secret.set project/a K3"],
    );
    assert.equal(events(local.run(["audit", "list", "--since", "1h", "--until", end, "--json"])).length >= 5, true);
    assert.deepEqual(events(local.run(["audit", "list", "--until", "2000-01-01", "--json"])), []);
    assert.deepEqual(events(local.run(["audit", "list", "--since", "2999-01-01T00:00:00Z", "--json"])), []);
    const mine = events(local.run(["audit", "list", "--actor", localActor, "--action", "secret.set", "--until", end, "--json"]));
    assert.deepEqual(
      mine.map((e) => e.key),
      ["K3"],
    );
    const sets = events(local.run(["audit", "list", "--action", "secret.set", "--until", end, "--json"]));
    assert.deepEqual(
      sets.map((e) => `${e.owner ?? ""} ${e.key ?? ""}`),
      ["project/a K3", "project/b K1", "project/a K2", "project/a K1"],
    );
  });

  it("remote mode prints exactly what local mode prints for the same filters", () => {
    for (const extra of [
      [],
      ["--tail", "3"],
      ["--oldest-first", "--limit", "3"],
      ["--oldest-first", "--after", "2", "--limit", "2"],
      ["--since", mid],
      ["--action", "secret.set"],
      ["--actor", localActor],
      ["--owner", "project/b", "--since", "2000-01-01"],
    ]) {
      for (const json of [[], ["--json"]]) {
        const args = ["audit", "list", "--until", end, ...extra, ...json];
        const l = local.run(args);
        const r = remote.run(args);
        assert.equal(l.status, 0, `${args.join(" ")}: ${l.stderr}`);
        assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
        assert.equal(r.stdout, l.stdout, args.join(" "));
      }
    }
  });

  it("a scoped audit:read token still sees only its owners' events, whatever the filter", () => {
    const mine = events(scoped.run(["audit", "list", "--until", end, "--json"]));
    assert.ok(mine.length >= 3);
    assert.ok(
      mine.every((e) => e.owner === "project/a"),
      JSON.stringify(mine),
    );
    assert.equal(
      scoped.run(["audit", "list", "--until", end, "--json"]).stdout,
      local.run(["audit", "list", "--until", end, "--owner", "project/a", "--json"]).stdout,
    );
    assert.deepEqual(events(scoped.run(["audit", "list", "--action", "secret.unset", "--until", end, "--json"])), []);
    assert.ok(events(scoped.run(["audit", "list", "--tail", "50", "--since", "1h", "--json"])).every((e) => e.owner === "project/a"));
    const denied = scoped.run(["audit", "list", "--owner", "project/b", "--since", mid]);
    assert.equal(denied.status, 6);
    assert.match(denied.stderr, /^error\[SCOPE_DENIED\]/);
    assert.doesNotMatch(denied.stdout, /project\/b/);
  });

  it("GET /v1/audit: order=desc pages newest first with its cursor; since/until/actor/after as query parameters", async () => {
    const q = `until=${encodeURIComponent(end)}`;
    const p1 = await call(srv.url, "GET", `/v1/audit?order=desc&limit=2&${q}`, { token: srv.adminToken });
    assert.equal(p1.status, 200, p1.text);
    const b1 = p1.body as { items: Event[]; nextCursor: string | null };
    assert.equal(b1.items.length, 2);
    assert.ok(b1.nextCursor !== null);
    const p2 = await call(srv.url, "GET", `/v1/audit?order=desc&limit=2&cursor=${b1.nextCursor}&${q}`, { token: srv.adminToken });
    const b2 = p2.body as { items: Event[] };
    const all = events(local.run(["audit", "list", "--until", end, "--json"]));
    assert.deepEqual(
      [...b1.items, ...b2.items].map((e) => e.seq),
      all.slice(0, 4).map((e) => e.seq),
    );
    const asc = await call(srv.url, "GET", `/v1/audit?limit=2&${q}`, { token: srv.adminToken });
    assert.deepEqual(
      (asc.body as { items: Event[] }).items.map((e) => e.seq),
      [...all]
        .reverse()
        .slice(0, 2)
        .map((e) => e.seq),
      "without order: oldest first, as before",
    );
    const since = await call(srv.url, "GET", `/v1/audit?since=${encodeURIComponent(mid)}&${q}&actor=${encodeURIComponent(localActor)}`, {
      token: srv.adminToken,
    });
    assert.deepEqual(
      (since.body as { items: Event[] }).items.map((e) => e.key),
      ["K3"],
    );
    for (const [param, field] of [
      ["since=yesterday", "since"],
      ["until=2026-02-31", "until"],
      ["order=sideways", "order"],
      ["after=x", "after"],
    ] as const) {
      const bad = await call(srv.url, "GET", `/v1/audit?${param}`, { token: srv.adminToken });
      assert.equal(bad.status, 400, param);
      assert.equal((bad.body as { code: string }).code, "INVALID_INPUT", param);
      assert.match((bad.body as { detail: string }).detail, new RegExp(`^${field}: `), param);
    }
  });

  it("bad input: a time it cannot read, an empty window, --tail with --limit: a clear error, exit 2", () => {
    const bad = local.run(["audit", "list", "--since", "yesterday"]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^error\[INVALID_INPUT\]: since: must be an ISO 8601 date or time with a zone .* or a time ago such as 30m/);
    const noZone = local.run(["audit", "list", "--until", "2026-12-01T10:00"]);
    assert.equal(noZone.status, 2);
    assert.match(noZone.stderr, /^error\[INVALID_INPUT\]: until: /);
    const window = local.run(["audit", "list", "--since", "1h", "--until", "2h"]);
    assert.equal(window.status, 2);
    assert.match(window.stderr, /^error\[INVALID_INPUT\]: until: must be later than --since/);
    const both = local.run(["audit", "list", "--tail", "2", "--limit", "3"]);
    assert.equal(both.status, 2);
    assert.match(both.stderr, /^error\[USAGE\]: --tail and --limit cannot be combined/);
    const zero = local.run(["audit", "list", "--tail", "0"]);
    assert.equal(zero.status, 2);
    assert.match(zero.stderr, /^error\[INVALID_INPUT\]: tail: /);
  });
});
