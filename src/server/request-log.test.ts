import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { tempCore, type TempCore } from "../../test/fixtures/temp-core.ts";
import { buildServer } from "./app.ts";
import { lazyChildLogger } from "./request-log.ts";
import { serverLogger } from "./serve.ts";

/** The server's own logger (redacting) writing JSON lines into an array. */
function capture(level = "info"): { logger: ReturnType<typeof serverLogger>; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk.toString("utf8"));
      done();
    },
  });
  const logger = serverLogger(stream, level);
  return {
    logger,
    lines: () =>
      out
        .join("")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe("request logging", () => {
  let t: TempCore;
  before(async () => {
    t = await tempCore("sqlite");
  });
  after(async () => {
    await t.cleanup();
  });

  it("writes one line per request with exactly its fixed fields, the request id first", async () => {
    const { logger, lines } = capture();
    const app = buildServer({ core: t.core, logger });
    try {
      await app.inject({ method: "GET", url: "/healthz", headers: { "x-request-id": "req-1" } });
      await app.inject({ method: "GET", url: "/v1/secrets/project/p/K", headers: { authorization: "Bearer coffer_nope" } });
    } finally {
      await app.close();
    }
    const requests = lines().filter((l) => l["msg"] === "request");
    assert.equal(requests.length, 2);
    const health = requests[0] ?? {};
    const denied = requests[1] ?? {};
    assert.deepEqual(Object.keys(health), ["level", "time", "name", "reqId", "method", "route", "status", "ms", "actor", "msg"]);
    assert.deepEqual(
      { ...health, time: 0, ms: 0 },
      {
        level: 30,
        time: 0,
        name: "coffer-server",
        reqId: "req-1",
        method: "GET",
        route: "/healthz",
        status: 200,
        ms: 0,
        actor: null,
        msg: "request",
      },
    );
    assert.equal(denied["route"], "/v1/secrets/:ownerType/:ownerId/:keyName");
    assert.equal(denied["status"], 401);
    assert.equal(JSON.stringify(lines()).includes("coffer_nope"), false, "the presented token is not logged");
  });

  it("writes no request line above info", async () => {
    const { logger, lines } = capture("warn");
    const app = buildServer({ core: t.core, logger });
    try {
      await app.inject({ method: "GET", url: "/healthz" });
    } finally {
      await app.close();
    }
    assert.deepEqual(
      lines().filter((l) => l["msg"] === "request"),
      [],
    );
  });

  it("req.log is made on first use, bound to the request id, and still redacts", () => {
    const { logger, lines } = capture("debug");
    let made = 0;
    const counting = Object.create(logger, {
      child: {
        value: (...args: Parameters<typeof logger.child>) => {
          made++;
          return logger.child(...args);
        },
      },
    }) as typeof logger;
    const log = lazyChildLogger(counting, { reqId: "req-2" }, {});
    assert.equal(made, 0, "nothing made before something logs");
    assert.equal(log.level, "debug");
    log.error({ code: "INTERNAL", value: "s3cr3t" }, "internal error");
    log.debug("plain text");
    assert.equal(made, 1, "made once");
    const [first, second] = lines();
    assert.deepEqual(
      { reqId: first?.["reqId"], code: first?.["code"], value: first?.["value"], msg: first?.["msg"], level: first?.["level"] },
      { reqId: "req-2", code: "INTERNAL", value: "********", msg: "internal error", level: 50 },
    );
    assert.deepEqual({ reqId: second?.["reqId"], msg: second?.["msg"] }, { reqId: "req-2", msg: "plain text" });
  });
});
