// The load generator of `npm run bench -- --http`, in its own process so it does not share a
// core with the server it measures... as far as 2 cores allow. Runs autocannon with the JSON
// config in argv[2] against 127.0.0.1 only, prints its summary as JSON on stdout.
import autocannon from "autocannon";

type Request = { readonly method: "GET" | "POST" | "PUT"; readonly path: string; readonly body?: string };
type Config = {
  /** Several URLs: autocannon spreads the connections over them. */
  readonly url: string | readonly string[];
  /** A mix: each connection cycles through these (instead of method/path/body). */
  readonly mix?: readonly Request[];
  readonly method: "GET" | "POST" | "PUT";
  /** `{i}` is replaced by a request counter modulo `spread`. */
  readonly path: string;
  readonly spread: number;
  readonly body?: string;
  readonly token?: string;
  readonly connections: number;
  readonly seconds: number;
};

const cfg = JSON.parse(process.argv[2] ?? "{}") as Config;
const urls = typeof cfg.url === "string" ? [cfg.url] : cfg.url;
for (const u of urls) if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(u)) throw new Error("the HTTP bench only loads 127.0.0.1");
let n = 0;
const headers: Record<string, string> = { "content-type": "application/json" };
if (cfg.token !== undefined) headers["authorization"] = `Bearer ${cfg.token}`;
const result = await autocannon({
  url: urls.length === 1 ? (urls[0] ?? "") : urls,
  connections: cfg.connections,
  duration: cfg.seconds,
  requests: (cfg.mix ?? [{ method: cfg.method, path: cfg.path, ...(cfg.body === undefined ? {} : { body: cfg.body }) }]).map((r) => ({
    method: r.method,
    headers,
    ...(r.body === undefined ? {} : { body: r.body }),
    setupRequest: (req: Record<string, unknown>) => ({ ...req, path: r.path.replace("{i}", String(n++ % cfg.spread)) }),
  })),
});
process.stdout.write(
  `${JSON.stringify({
    rps: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds: result.duration,
  })}\n`,
);
